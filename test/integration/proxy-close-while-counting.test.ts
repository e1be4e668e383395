import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countTokens } from '../../src/infrastructure/tokenizer';
import { gatedChatCall, startFakeUpstream, type FakeUpstream } from '../support/fake-upstream';
import { planFor } from '../support/quotas';
import { bearer, createTestApp, type TestApp } from '../support/test-app';

/**
 * Closing the service right after a client left a proxied stream: the stream is recorded with
 * the tokens the tokenizer counted, and a connection a client opened ahead and sent nothing on
 * (HTTP clients keep spares; fetch opened one here too) no longer holds the shutdown until
 * Node's header timeout (it took ~70 s).
 */
// ~3 MB of distinct words: counting them takes the tokenizer about a second, so the close
// begins while the count is still running, and the record exists only if the close waits for it
const PROMPT = Array.from({ length: 150_000 }, (_, i) => `story${(i * 7919) % 100_003} about tokens,`).join(' ');
let fake: FakeUpstream;
let t: TestApp;
let port: number;
let key: string;

beforeAll(async () => {
  fake = await startFakeUpstream();
  t = await createTestApp({ proxy: { openaiUpstreamUrl: `${fake.url}/v1`, anthropicUpstreamUrl: fake.url } });
  await t.app.listen({ port: 0, host: '127.0.0.1' });
  port = (t.app.server.address() as { port: number }).port;
  const created = await t.app.inject({
    method: 'POST',
    url: '/v1/admin/api-keys',
    headers: bearer(t.token('root', { role: 'admin' })),
    payload: { name: 'counting' },
  });
  key = (created.json() as { key: string }).key;
  // no limits: a prompt this long goes out without a reservation
  await planFor(t, bearer(t.token('root', { role: 'admin' })), ['leaving'], { monthlyTokenLimit: null });
});
afterAll(async () => {
  await t.close();
  await fake.close();
});

describe('closing the service just after a client left a stream', () => {
  it('stores the stream’s record with estimated tokens, and does not wait for a spare connection', async () => {
    const spare = connect(port, '127.0.0.1');
    await new Promise((resolve) => spare.once('connect', resolve));
    const controller = new AbortController();
    const response = await fetch(`http://127.0.0.1:${port}/proxy/openai/v1/chat/completions`, {
      method: 'POST',
      signal: controller.signal,
      headers: gatedChatCall(key, 'leaving').headers,
      body: JSON.stringify({
        model: 'gpt-4o',
        messages: [{ role: 'user', content: PROMPT }],
        max_tokens: 20,
        stream: true,
      }),
    });
    const reader = response.body!.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toContain('"role":"assistant"');
    controller.abort();
    // the proxy noticed: it broke off the upstream, and now counts the prompt and the text so far
    await expect.poll(() => fake.aborted, { timeout: 5000 }).toBe(1);

    const started = performance.now();
    await t.app.close();
    // a spare connection held it ~70 s (Node's header timeout); counting ~3 MB on a loaded
    // machine may take several seconds, so the bound only tells those apart
    expect(performance.now() - started).toBeLessThan(30_000);
    // the server closed it: the spare sees its end
    await expect.poll(() => spare.readableEnded || spare.destroyed, { timeout: 1000 }).toBe(true);
    const records = (await t.db.query(
      `SELECT token_source, success, input_tokens::int FROM usage_records WHERE user_id = 'leaving'`,
    )) as unknown[];
    expect(records).toEqual([{ token_source: 'estimated', success: false, input_tokens: await countTokens(PROMPT) }]);
  }, 120_000);
});
