import 'reflect-metadata';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PRICES_OF_MODELS } from '../../src/infrastructure/persistence/pg-price-catalog';
import { FOLD_STATEMENT } from '../../src/infrastructure/persistence/pg-rollup-folder';
import { BEGIN_PLANNED_EACH_TIME } from '../../src/infrastructure/persistence/prepared-statements';
import { INGEST_STATEMENT } from '../../src/infrastructure/persistence/pg-usage-repository';
import { ingest, usageRecords } from '../support/records';
import { bearer, createTestApp, type TestApp } from '../support/test-app';

/**
 * Plans the ingest statement and the fold get in the states a fresh service meets: tables
 * still empty or never analyzed while they fill.
 */
let t: TestApp;
let db: pg.Client;
let admin: Record<string, string>;

async function start(poolSize?: number): Promise<void> {
  t = await createTestApp({ poolSize });
  admin = bearer(t.token('root', { role: 'admin' }));
  db = new pg.Client({ connectionString: t.databaseUrl });
  await db.connect();
}
async function stop(): Promise<void> {
  await db.end();
  await t.close();
}

const lines = (rows: Array<{ 'QUERY PLAN': string }>): string[] => rows.map((r) => r['QUERY PLAN']);
const scansOf = (plan: string[], table: string): string[] =>
  plan
    .filter((line) => new RegExp(`Scan.* on ${table}\\b`).test(line))
    .map((line) => line.replace(/^[\s>-]+/, '').replace(/\s+\(cost=.*$/, ''));

/** The plan the next batch gets, on the app's own connection (a pool of one), as the service runs it. */
async function nextBatchPlan(): Promise<string[]> {
  const client = t.db.createQueryRunner();
  try {
    await client.query(BEGIN_PLANNED_EACH_TIME);
    return lines(await client.query(`EXPLAIN EXECUTE ${INGEST_STATEMENT.name}('default', '', true)`));
  } finally {
    await client.query('ROLLBACK');
    await client.release();
  }
}

/**
 * Every access to quota_reservations goes through the request-id or the primary key index, by
 * the request id or the reservation's id: never the workspace's reservations one by one.
 */
function expectReservationsReachedByKey(plan: string[]): void {
  const accesses = plan.flatMap((line, at) => (/Scan.* on quota_reservations/.test(line) ? [at] : []));
  expect(accesses.length).toBeGreaterThan(0);
  for (const at of accesses) {
    const [access, condition] = [plan[at]!, plan[at + 1] ?? ''];

    expect(access).not.toContain('Seq Scan');
    expect(access).not.toContain('quota_reservations_holding');
    expect(condition, access).toMatch(/(Index|Recheck) Cond: .*\b(request_id|id) = /);
  }
  expect(plan.some((line) => line.includes('quota_reservations_workspace_id_request_id_key'))).toBe(true);
}

describe('the fold, planned once per connection', () => {
  // one connection: the test's queries see the app's session and the fold it prepared
  beforeAll(() => start(1));
  afterAll(stop);

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

describe('the ingest statement, first run while quota_reservations was empty', () => {
  // one connection: the test's queries see the app's session and the plan it keeps
  beforeAll(() => start(1));
  afterAll(stop);

  it('reaches reservations by their request id and id only, never by walking the active ones', async () => {
    await db.query(`ALTER TABLE quota_reservations SET (autovacuum_enabled = off)`);
    // the first batch prepares the statement: no reservation exists, none was ever analyzed
    await ingest(
      t,
      admin,
      usageRecords(2, (i) => ({ requestId: `first-${i}` })),
      { expectAccepted: true },
    );
    // then many active reservations, and no ANALYZE to tell the planner so
    await db.query(
      `INSERT INTO quota_reservations (workspace_id, id, request_id, user_id, period_start, estimated_tokens, status, expires_at)
       SELECT 'default', gen_random_uuid(), 'held-' || g, 'u' || (g % 100), date_trunc('month', now()), 10, 'active',
              now() + interval '10 minutes'
       FROM generate_series(1, 5000) g`,
    );
    const { rows: analyzed } = await db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_stat_user_tables
       WHERE relname = 'quota_reservations' AND (last_analyze IS NOT NULL OR last_autoanalyze IS NOT NULL)`,
    );
    expect(analyzed[0]!.n).toBe(0);
    await ingest(
      t,
      admin,
      usageRecords(5, (i) => ({ requestId: `held-${i + 1}`, userId: `u${i + 1}` })),
      { expectAccepted: true },
    );

    // parsed once, planned for each batch: a plan made on the empty table would have stayed
    const [prepared] = (await t.db.query(
      `SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE name = $1`,
      [INGEST_STATEMENT.name],
    )) as Array<{ generic_plans: string; custom_plans: string }>;
    expect(prepared).toEqual({ generic_plans: '0', custom_plans: '2' });
    // and the price lookup of both batches went by name too, parsed once on the connection
    const [lookup] = (await t.db.query(
      `SELECT generic_plans + custom_plans AS runs FROM pg_prepared_statements WHERE name = $1`,
      [PRICES_OF_MODELS.name],
    )) as Array<{ runs: string }>;
    expect(lookup).toEqual({ runs: '2' });
    expectReservationsReachedByKey(await nextBatchPlan());
    // and the five it settled are settled, the rest still held
    const { rows } = await db.query<{ status: string; n: number }>(
      `SELECT status, count(*)::int AS n FROM quota_reservations GROUP BY status ORDER BY status`,
    );
    expect(rows).toEqual([
      { status: 'active', n: 4995 },
      { status: 'settled', n: 5 },
    ]);
  });
});

describe('the ingest statement, with a few pages of reservations', () => {
  beforeAll(() => start(1));
  afterAll(stop);

  it("looks each record's reservation up by its request id, not by reading the table for every record", async () => {
    // a workspace that has used reservations a little: 150 of them, ended, and analyzed
    await db.query(
      `INSERT INTO quota_reservations (workspace_id, id, request_id, user_id, period_start, estimated_tokens, status, expires_at, ended_at)
       SELECT 'default', gen_random_uuid(), 'done-' || g, 'u' || (g % 10), date_trunc('month', now()), 10, 'released',
              now() + interval '10 minutes', now()
       FROM generate_series(1, 150) g`,
    );
    await db.query(`ANALYZE quota_reservations`);
    await ingest(
      t,
      admin,
      usageRecords(3, (i) => ({ requestId: `small-${i}` })),
      { expectAccepted: true },
    );

    expectReservationsReachedByKey(await nextBatchPlan());
  });
});
