import { describe, expect, it } from 'vitest';
import { InFlightRequestIds } from '../../src/infrastructure/persistence/in-flight-request-ids';

/** An insert whose answer the test gives: records every call, answers when told. */
function controlledInsert() {
  const calls: Array<{ ids: string[]; answer: (inserted: number | Error) => void }> = [];
  const insert = (records: Array<{ requestId: string }>): Promise<number> =>
    new Promise((resolve, reject) => {
      calls.push({
        ids: records.map((r) => r.requestId),
        answer: (inserted) => (inserted instanceof Error ? reject(inserted) : resolve(inserted)),
      });
    });
  return { calls, insert };
}

const ids = (...requestIds: string[]) => requestIds.map((requestId) => ({ requestId }));
const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('request ids in flight in this instance', () => {
  it('sends a retried id once, and counts the retry a duplicate once the first call has stored it', async () => {
    const inFlight = new InFlightRequestIds();
    const { calls, insert } = controlledInsert();
    const first = inFlight.store('ws', ids('a', 'b', 'c'), insert);
    const second = inFlight.store('ws', ids('c', 'd', 'a'), insert);
    await tick();
    // the second call's own part goes at once, without the ids the first is storing
    expect(calls.map((c) => c.ids)).toEqual([['a', 'b', 'c'], ['d']]);
    calls[1]!.answer(1);
    await tick();
    let secondDone = false;
    void second.then(() => (secondDone = true));
    await tick();
    expect(secondDone).toBe(false); // it waits for the first call's outcome
    calls[0]!.answer(3);
    await expect(first).resolves.toBe(3);
    await expect(second).resolves.toBe(1);
    expect(calls).toHaveLength(2);
    expect(inFlight.size).toBe(0);
  });

  it('stores the ids itself when the call it waited for failed', async () => {
    const inFlight = new InFlightRequestIds();
    const { calls, insert } = controlledInsert();
    const first = inFlight.store('ws', ids('a', 'b'), insert);
    const second = inFlight.store('ws', ids('b', 'x'), insert);
    await tick();
    calls[1]!.answer(1);
    calls[0]!.answer(new Error('connection lost'));
    await expect(first).rejects.toThrow('connection lost');
    await tick();
    expect(calls.map((c) => c.ids)).toEqual([['a', 'b'], ['x'], ['b']]);
    calls[2]!.answer(1);
    await expect(second).resolves.toBe(2);
    expect(inFlight.size).toBe(0);
  });

  it('keeps workspaces apart: the same id in another workspace is not a retry', async () => {
    const inFlight = new InFlightRequestIds();
    const { calls, insert } = controlledInsert();
    const one = inFlight.store('ws-1', ids('a'), insert);
    const other = inFlight.store('ws-2', ids('a'), insert);
    await tick();
    expect(calls.map((c) => c.ids)).toEqual([['a'], ['a']]);
    calls[0]!.answer(1);
    calls[1]!.answer(1);
    await expect(Promise.all([one, other])).resolves.toEqual([1, 1]);
  });

  it('frees an id once its call is done, so a later call sends it again', async () => {
    const inFlight = new InFlightRequestIds();
    const { calls, insert } = controlledInsert();
    const first = inFlight.store('ws', ids('a'), insert);
    await tick();
    calls[0]!.answer(1);
    await first;
    const again = inFlight.store('ws', ids('a'), insert);
    await tick();
    expect(calls.map((c) => c.ids)).toEqual([['a'], ['a']]);
    calls[1]!.answer(0);
    await expect(again).resolves.toBe(0);
  });
});
