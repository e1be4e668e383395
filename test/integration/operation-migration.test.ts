import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { foldPending } from '../../src/infrastructure/persistence/pg-rollup-folder';
import { ingest, usageRecords } from '../support/records';
import { bearer, createTestApp, type TestApp } from '../support/test-app';
import { rollupsAndRecomputations, type Row } from '../support/usage-checks';

const NOW = new Date('2026-06-20T12:00:00Z');
const HOUR_MS = 3_600_000;

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp({ clock: { now: () => NOW } });
});
afterAll(async () => t.close());

/** A rollup row whose every sum is zero: what an operation whose records were all still pending leaves behind. */
const allZero = (row: Row): boolean =>
  Object.entries(row).every(
    ([column, value]) => !/requests|tokens|errors|duration|cost/.test(column) || Number(value) === 0,
  );

describe('the migration that makes the operation a rollup dimension', () => {
  it('splits the rows of kept months by operation exactly, also with usage still pending; older rows stay unsplit', async () => {
    const admin = bearer(t.token('admin', { role: 'admin', workspaceId: 'w' }));
    const records = usageRecords(300, (i) => ({
      userId: `u${i % 4}`,
      model: i % 3 === 0 ? 'gpt-4o-mini' : 'gpt-4o',
      ...(i % 5 !== 0 && { operation: ['chat', 'embeddings', 'responses'][i % 3] }),
      occurredAt: new Date(NOW.getTime() - (i % 50) * HOUR_MS - i * 1000).toISOString(),
      inputTokens: 10 + i,
      outputTokens: i % 7,
      // some costs as the client sent them: the migrations after this one count those
      ...(i % 17 === 0 && { cost: '0.5' }),
    }));
    await ingest(t, admin, records.slice(0, 200), { expectAccepted: true });
    await ingest(t, admin, records.slice(200), { expectAccepted: true, fold: false });
    // a month whose raw records retention already dropped: only its rollup rows are left
    await t.db.query(`INSERT INTO usage_monthly_models (workspace_id, month_start, provider, model, operation, requests,
        errors, input_tokens, output_tokens, cached_input_tokens, cache_write_tokens, reasoning_tokens, total_tokens,
        duration_ms_sum, duration_count, cost, unpriced_requests, unpriced_tokens)
      VALUES ('w', '2023-01-01T00:00:00Z', 'openai', 'gpt-4o', '', 7, 0, 70, 7, 0, 0, 0, 77, 0, 0, 1.5, 0, 0)`);

    // back to the schema before: every row of a key merged under no operation, pending kept
    // (and the migrations after it)
    for (let undone = ''; undone !== 'OperationDimension1796500000000';) {
      const [last] = (await t.db.query(`SELECT name FROM migrations ORDER BY id DESC LIMIT 1`)) as Array<{
        name: string;
      }>;
      await t.db.undoLastMigration({ transaction: 'each' });
      undone = last!.name;
    }
    const [columns] = (await t.db.query(`SELECT count(*)::int AS n FROM information_schema.columns
      WHERE table_name IN ('usage_hourly', 'usage_pending') AND column_name = 'operation'`)) as Array<{ n: number }>;
    expect(columns!.n).toBe(0);
    const [pendingBefore] = (await t.db.query(`SELECT sum(requests)::int AS n FROM usage_pending`)) as Array<{
      n: number;
    }>;
    expect(pendingBefore!.n).toBe(100);

    await t.db.runMigrations({ transaction: 'each' });
    await foldPending(t.db);
    for (const { table, rollup, recomputed } of await rollupsAndRecomputations(t.db, { numericCost: true })) {
      const kept = rollup.filter((row) => !allZero(row) && !String(row.month_start).startsWith('2023-01'));
      expect(kept, table).toEqual(recomputed);
    }
    const old = (await t.db
      .query(`SELECT operation, requests::int, cost::text, provided_requests::int FROM usage_monthly_models
      WHERE month_start = '2023-01-01T00:00:00Z'`)) as Row[];
    // which of its priced records the client priced is unknown: all of them count as such
    expect(old).toEqual([{ operation: '', requests: 7, cost: '1.5', provided_requests: 7 }]);

    // and the stats read it back: every operation, none of the records counted twice
    const res = await t.app.inject({
      method: 'GET',
      url: '/v1/admin/usage/stats?from=2026-06-01T00:00:00Z&to=2026-06-21T00:00:00Z',
      headers: admin,
    });
    expect(res.statusCode).toBe(200);
    const tokensOf = (operation: string | undefined) =>
      records
        .filter((r) => ('operation' in r ? r.operation : undefined) === operation)
        .reduce((n, r) => n + r.inputTokens + r.outputTokens, 0);
    expect(res.json().operations).toEqual([
      { operation: 'chat', requests: 80, totalTokens: tokensOf('chat'), errors: 0 },
      { operation: 'embeddings', requests: 80, totalTokens: tokensOf('embeddings'), errors: 0 },
      { operation: 'responses', requests: 80, totalTokens: tokensOf('responses'), errors: 0 },
      { operation: null, requests: 60, totalTokens: tokensOf(undefined), errors: 0 },
    ]);
  });
});
