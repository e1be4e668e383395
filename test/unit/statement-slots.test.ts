import { describe, expect, it } from 'vitest';
import { DatabaseUnavailableError } from '../../src/domain/errors';
import { StatementSlots } from '../../src/infrastructure/persistence/statement-slots';

/** A statement that runs until the test ends it. */
function pending<T>(): { promise: Promise<T>; finish: (value: T) => void; fail: (error: Error) => void } {
  let finish!: (value: T) => void;
  let fail!: (error: Error) => void;
  const promise = new Promise<T>((resolve, reject) => {
    finish = resolve;
    fail = reject;
  });
  return { promise, finish, fail };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('StatementSlots', () => {
  it('runs at most `limit` statements at once and starts the others in the order they came', async () => {
    const slots = new StatementSlots(2, 0);
    const statements = Array.from({ length: 5 }, () => pending<number>());
    const started: number[] = [];
    const results = statements.map((s, i) =>
      slots.run(() => {
        started.push(i);
        return s.promise;
      }),
    );
    const outcomes = Promise.allSettled(results); // observes the failure below as it happens
    await tick();
    expect(started).toEqual([0, 1]);
    expect(slots.queued).toBe(3);

    statements[1]!.finish(1);
    await tick();
    expect(started).toEqual([0, 1, 2]);
    statements[0]!.fail(new Error('statement failed')); // a failure frees its slot too
    await tick();
    expect(started).toEqual([0, 1, 2, 3]);
    statements[2]!.finish(2);
    statements[3]!.finish(3);
    await tick();
    expect(started).toEqual([0, 1, 2, 3, 4]);
    statements[4]!.finish(4);

    expect((await outcomes).map((o) => (o.status === 'fulfilled' ? o.value : o.reason.message))).toEqual([
      'statement failed',
      1,
      2,
      3,
      4,
    ]);
    expect(slots.queued).toBe(0);
    // every slot is free again: two new statements start at once
    const again = [pending<void>(), pending<void>()];
    let running = 0;
    const runs = again.map((s) => slots.run(() => ((running += 1), s.promise)));
    await tick();
    expect(running).toBe(2);
    again.forEach((s) => s.finish());
    await Promise.all(runs);
  });

  it('gives up on a wait longer than maxWaitMs with a DatabaseUnavailableError, without running the statement', async () => {
    const slots = new StatementSlots(1, 50);
    const first = pending<string>();
    const running = slots.run(() => first.promise);
    let secondRan = false;
    const second = slots.run(async () => {
      secondRan = true;
    });
    await expect(second).rejects.toBeInstanceOf(DatabaseUnavailableError);
    expect(slots.queued).toBe(0);
    first.finish('done');
    expect(await running).toBe('done');
    expect(secondRan).toBe(false);
    // the slot the first statement gave back is free, not handed to the caller that gave up
    expect(await slots.run(async () => 'third')).toBe('third');
  });

  it('refuses a limit below one', () => {
    expect(() => new StatementSlots(0, 0)).toThrow(RangeError);
  });
});
