import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { countTokens } from '../../src/infrastructure/tokenizer';

/** The longest the event loop went without running a 10 ms interval while `work` ran. */
async function longestPause(work: () => Promise<unknown>): Promise<{ pauseMs: number; result: unknown }> {
  let last = performance.now();
  let pauseMs = 0;
  const tick = setInterval(() => {
    const now = performance.now();
    pauseMs = Math.max(pauseMs, now - last);
    last = now;
  }, 10);
  await sleep(30);
  try {
    const result = await work();
    await sleep(30);
    return { pauseMs, result };
  } finally {
    clearInterval(tick);
  }
}

describe('countTokens', () => {
  it('counts by o200k_base in a worker: the event loop goes on while the encoding loads (~1.2 s in the thread)', async () => {
    const { pauseMs, result } = await longestPause(() =>
      Promise.all([
        countTokens('Say hello'),
        countTokens(''),
        countTokens(' word'.repeat(1000)),
        countTokens('Grüße, 世界! 👋'),
      ]),
    );
    expect(result).toEqual([2, 0, 1000, 8]);
    expect(pauseMs).toBeLessThan(300);
  });
});
