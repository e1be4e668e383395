import 'reflect-metadata';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INGEST_STATEMENT } from '../../src/infrastructure/persistence/pg-usage-repository';
import { FOLD_STATEMENT } from '../../src/infrastructure/persistence/pg-rollup-folder';
import { ingest, usageRecords } from '../support/records';
import { bearer, createTestApp, type TestApp } from '../support/test-app';

/**
 * The ingest statement and the fold are prepared: PostgreSQL plans them once per connection,
 * often while the tables they read are still empty, and keeps that plan while they fill. The
 * app here has a single connection, so the test's queries see the app's own prepared
 * statements and their plans.
 */
let t: TestApp;
let db: pg.Client;
let admin: Record<string, string>;

beforeAll(async () => {
  t = await createTestApp({ poolSize: 1 });
  admin = bearer(t.token('root', { role: 'admin' }));
  db = new pg.Client({ connectionString: t.databaseUrl });
  await db.connect();
});
afterAll(async () => {
  await db.end();
  await t.close();
});

const lines = (rows: Array<{ 'QUERY PLAN': string }>): string[] => rows.map((r) => r['QUERY PLAN']);
const scansOf = (plan: string[], table: string): string[] =>
  plan
    .filter((line) => new RegExp(`Scan.* on ${table}\\b`).test(line))
    .map((line) => line.replace(/^[\s>-]+/, '').replace(/\s+\(cost=.*$/, ''));

describe('the prepared ingest statement', () => {
  it('is planned once for any batch after the first few, and stores every batch', async () => {
    for (let batch = 0; batch < 8; batch += 1) {
      const records = usageRecords(20, (i) => ({ requestId: `prepared-${batch}-${i}`, userId: `u${i % 4}` }));
      await ingest(t, admin, records, { expectAccepted: true, fold: false });
    }
    const statements = (await t.db.query(
      `SELECT name, generic_plans::int, custom_plans::int FROM pg_prepared_statements WHERE name = $1`,
      [INGEST_STATEMENT.name],
    )) as Array<{ name: string; generic_plans: number; custom_plans: number }>;
    // PostgreSQL plans the first five executions for their values, then keeps one plan
    expect(statements).toEqual([{ name: INGEST_STATEMENT.name, generic_plans: 3, custom_plans: 5 }]);
    const [stored] = (await t.db.query(`SELECT count(*)::int AS n FROM usage_records`)) as Array<{ n: number }>;
    expect(stored!.n).toBe(160);
  });

  it('looks a settled reservation up by its request id, also as planned on an empty table', async () => {
    const { rows } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM quota_reservations`);
    expect(rows[0]!.n).toBe(0);
    const plan = lines((await db.query(`EXPLAIN (GENERIC_PLAN) ${INGEST_STATEMENT.text}`)).rows);
    expect(scansOf(plan, 'quota_reservations').filter((scan) => scan.includes(' x'))).toEqual([
      'Index Scan using quota_reservations_workspace_id_request_id_key on quota_reservations x',
    ]);
    expect(plan.filter((line) => line.includes('Seq Scan'))).toEqual([]);
  });
});

describe('the prepared fold', () => {
  it('takes the rows it moves by their ctid, in the plan made on a nearly empty queue', async () => {
    await ingest(
      t,
      admin,
      usageRecords(3, (i) => ({ requestId: `fold-${i}` })),
      { fold: true },
    );
    const [pending] = (await t.db.query(`SELECT count(*)::int AS n FROM usage_pending`)) as Array<{ n: number }>;
    expect(pending!.n).toBe(0);
    // the plan the app's connection keeps for the fold (made at its first round, just above)
    const plan = lines(await t.db.query(`EXPLAIN EXECUTE ${FOLD_STATEMENT.name}`));
    expect(scansOf(plan, 'usage_pending')).toEqual([
      'Seq Scan on usage_pending',
      'Tid Scan on usage_pending usage_pending_1',
    ]);
  });
});
