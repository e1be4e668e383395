import 'reflect-metadata';
import { afterEach, describe, expect, it } from 'vitest';
import { IngestStatementSlots } from '../../src/infrastructure/persistence/statement-slots';
import { waitUntil } from '../support/outage-checks';
import { usageRecords } from '../support/records';
import { holdIngest, type IngestHold } from '../support/row-locks';
import { bearer, createTestApp, type TestApp } from '../support/test-app';

/**
 * INGEST_STATEMENTS: an instance runs at most that many ingest statements at once; further
 * batches wait in the service (they hold no connection, so queries are still answered), and a
 * batch that waits longer than its limit is answered 503 with nothing of it written.
 */

let t: TestApp | undefined;
let hold: IngestHold | undefined;
afterEach(async () => {
  await hold?.close();
  hold = undefined;
  await t?.close();
  t = undefined;
});

const send = (app: TestApp, headers: Record<string, string>, batch: number) =>
  app.app.inject({
    method: 'POST',
    url: '/v1/usage/records',
    headers,
    payload: { records: usageRecords(3, (i) => ({ requestId: `batch-${batch}-${i}`, userId: `user-${batch}` })) },
  });

describe('ingest statements at once', () => {
  it.each([1, 2])(
    'with %i allowed, sends that many to PostgreSQL and queues the rest in the service',
    async (limit) => {
      t = await createTestApp({ ingest: { statements: limit, maxWaitMs: 0 } });
      const admin = bearer(t.token('root', { role: 'admin' }));
      const slots = t.container.resolve(IngestStatementSlots);
      const held = (hold = await holdIngest(t.databaseUrl));

      const answers = [1, 2, 3].map((batch) => send(t!, admin, batch));
      await waitUntil(10_000, async () => slots.queued === 3 - limit && (await held.statements()) === limit, 20);
      // the queued batches hold no connection: the Usage tab is answered meanwhile
      const stats = await t.app.inject({ method: 'GET', url: '/v1/admin/usage/stats', headers: admin });
      expect(stats.statusCode, stats.body).toBe(200);
      expect(await held.statements()).toBe(limit);

      await held.release();
      for (const answer of await Promise.all(answers)) {
        expect(answer.statusCode, answer.body).toBe(200);
        expect(answer.json()).toEqual({ accepted: 3, duplicates: 0, rejected: [] });
      }
      const { rows } = await held.observer.query<{ n: number }>('SELECT count(*)::int AS n FROM usage_records');
      expect(rows[0]!.n).toBe(9);
    },
  );

  it('answers 503 with Retry-After to a batch that waited too long, writes nothing of it, and takes its retry', async () => {
    t = await createTestApp({ ingest: { statements: 1, maxWaitMs: 300 } });
    const admin = bearer(t.token('root', { role: 'admin' }));
    const held = (hold = await holdIngest(t.databaseUrl));

    const first = send(t, admin, 1);
    await held.untilStatements(1);
    const second = await send(t, admin, 2);
    expect(second.statusCode, second.body).toBe(503);
    expect(second.headers['retry-after']).toBe('2');
    expect(second.json()).toMatchObject({ statusCode: 503, code: 'database_unavailable' });

    await held.release();
    expect((await first).json()).toEqual({ accepted: 3, duplicates: 0, rejected: [] });
    const stored = async () =>
      (
        await held.observer.query<{ user_id: string; n: number }>(
          'SELECT user_id, count(*)::int AS n FROM usage_records GROUP BY user_id ORDER BY user_id',
        )
      ).rows;
    expect(await stored()).toEqual([{ user_id: 'user-1', n: 3 }]);

    const retry = await send(t, admin, 2);
    expect(retry.json()).toEqual({ accepted: 3, duplicates: 0, rejected: [] });
    expect(await stored()).toEqual([
      { user_id: 'user-1', n: 3 },
      { user_id: 'user-2', n: 3 },
    ]);
  });
});
