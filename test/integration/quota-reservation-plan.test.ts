import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../support/test-app';

/**
 * `quota_reserve_batch` plans its main query once per connection (a generic plan), often on a
 * database whose reservations table is still empty, and keeps that plan while the table grows.
 * On an empty table every index starting with the workspace looks as good as any other, so a
 * plan that looked request ids up through another index than the unique one scanned all of a
 * workspace's reservations for every item. The plan a fresh database gets, under the function's
 * own settings, must use only the lookups the query is written for.
 */
let t: TestApp;
let db: pg.Client;

beforeAll(async () => {
  t = await createTestApp();
  db = new pg.Client({ connectionString: t.databaseUrl });
  await db.connect();
});
afterAll(async () => {
  await db.end();
  await t.close();
});

async function genericPlanOnEmptyTables(): Promise<string[]> {
  const { rows: settings } = await db.query<{ setting: string }>(
    `SELECT unnest(proconfig) AS setting FROM pg_proc WHERE proname = 'quota_reserve_batch'`,
  );
  expect(settings.map((s) => s.setting).sort()).toEqual(['enable_seqscan=off', 'plan_cache_mode=force_generic_plan']);
  for (const { setting } of settings) {
    const [name, value] = setting.split('=');
    await db.query(`SELECT set_config($1, $2, false)`, [name, value]);
  }
  const { rows } = await db.query<{ 'QUERY PLAN': string }>(
    `EXPLAIN (GENERIC_PLAN) SELECT * FROM quota_reservation_state($1::text, $2::timestamptz, $3::text[], $4::text[],
       $5::bigint[], $6::numeric[], $7::text[], $8::text[], $9::integer[], $10::uuid[])`,
  );
  return rows.map((r) => r['QUERY PLAN']);
}

describe('the reservation state query on a fresh database', () => {
  it('reads reservations only by the unique request id and the held-reservations index, and scans nothing', async () => {
    const { rows } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM quota_reservations`);
    expect(rows[0]!.n).toBe(0);
    const plan = await genericPlanOnEmptyTables();

    expect(plan.filter((line) => line.includes('Seq Scan'))).toEqual([]);
    const reservationScans = plan
      .filter((line) => / on quota_reservations /.test(line))
      .map((line) => line.replace(/^[\s>-]+/, '').replace(/\s+\(cost=.*$/, ''));
    expect(reservationScans.sort()).toEqual(
      [
        'Index Scan using quota_reservations_holding on quota_reservations h',
        'Index Scan using quota_reservations_workspace_id_request_id_key on quota_reservations e',
      ].sort(),
    );
    const requestLookup = plan[plan.findIndex((line) => line.includes('quota_reservations e')) + 1]!;
    expect(requestLookup).toMatch(/Index Cond: \(\(workspace_id = \$1\) AND \(request_id = /);
  });
});
