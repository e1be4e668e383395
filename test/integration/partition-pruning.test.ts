import 'reflect-metadata';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UsageScope } from '../../src/application/ports/usage-queries.port';
import { PgUsageQueries } from '../../src/infrastructure/persistence/pg-usage-queries';
import { createTestApp, type TestApp } from '../support/test-app';

/** Every statement the usage queries send, with its parameters. */
type Captured = Array<{ sql: string; params: unknown[] }>;

function capturing(t: TestApp): { queries: PgUsageQueries; captured: Captured } {
  const captured: Captured = [];
  const db = {
    query: async (sql: string, params: unknown[] = []) => {
      captured.push({ sql, params });
      return t.db.query(sql, params);
    },
  };
  const now = new Date('2026-04-02T13:45:00Z');
  return { queries: new PgUsageQueries(db as never, { now: () => now }), captured };
}

/**
 * The relations in an executed plan: what survived pruning at planning and at executor start
 * (a partition pruned only while running, per row of a lateral join, still shows, and still
 * costs planning and start-up).
 */
function relationsRead(node: Record<string, unknown>, out = new Set<string>()): Set<string> {
  if (typeof node['Relation Name'] === 'string') out.add(node['Relation Name']);
  for (const child of (node.Plans as Array<Record<string, unknown>> | undefined) ?? []) relationsRead(child, out);
  return out;
}

/** The raw partitions a statement reads, planned as node-pg sends it (one-off) or as a prepared statement's generic plan. */
async function partitionsRead(client: pg.Client, sql: string, params: unknown[], generic: boolean): Promise<string[]> {
  let plan: Array<{ Plan: Record<string, unknown> }>;
  if (generic) {
    await client.query(`SET plan_cache_mode = force_generic_plan`);
    await client.query(`PREPARE usage_statement AS ${sql}`);
    const literals = params.map((value) => {
      const prepared = prepareValue(value);
      return prepared === null ? 'NULL' : client.escapeLiteral(String(prepared));
    });
    const res = await client.query(
      `EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE usage_statement${literals.length ? `(${literals.join(', ')})` : ''}`,
    );
    await client.query(`DEALLOCATE usage_statement`);
    await client.query(`RESET plan_cache_mode`);
    plan = res.rows[0]['QUERY PLAN'];
  } else {
    const res = await client.query(`EXPLAIN (ANALYZE, FORMAT JSON) ${sql}`, params);
    plan = res.rows[0]['QUERY PLAN'];
  }
  return [...relationsRead(plan[0]!.Plan)].filter((r) => r.startsWith('usage_records_p')).sort();
}

/** node-pg's text form of a parameter (arrays as PostgreSQL array literals). */
function prepareValue(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (Array.isArray(value)) {
    return `{${value
      .map((v) =>
        v === null || v === undefined ? 'NULL' : `"${String(v).replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`,
      )
      .join(',')}}`;
  }
  return String(value);
}

let t: TestApp;
let client: pg.Client;
beforeAll(async () => {
  t = await createTestApp();
  client = new pg.Client({ connectionString: t.databaseUrl });
  await client.connect();
  await client.query(`SET TimeZone = 'UTC'`);
  // a record in every month of the five years of partitions the test database has, so that
  // reading any of them would show
  await client.query(`INSERT INTO usage_records (workspace_id, occurred_at, request_id, user_id, provider, model,
      input_tokens, output_tokens, total_tokens, success, cost_status)
    SELECT 'w', m + interval '10 hours 30 minutes', 'r' || to_char(m, 'YYYYMM'), 'u', 'openai', 'gpt-4o', 1, 1, 2, true, 'unpriced'
    FROM generate_series(timestamptz '2024-01-01', timestamptz '2028-12-01', interval '1 month') AS m`);
  const partitions = await client.query(
    `SELECT count(*)::int AS n FROM pg_inherits WHERE inhparent = 'usage_records'::regclass`,
  );
  expect(partitions.rows[0].n).toBeGreaterThanOrEqual(60);
});
afterAll(async () => {
  await client.end();
  await t.close();
});

describe('raw records in a range', () => {
  const window = (timeZone: string, granularity: 'hour' | 'day' = 'day') => ({
    from: new Date('2026-03-10T10:20:00Z'),
    to: new Date('2026-04-02T13:45:00Z'),
    timeZone,
    granularity,
  });
  const scopes: Array<[string, UsageScope]> = [
    ['Berlin', { workspaceId: 'w', window: window('Europe/Berlin'), filter: {} }],
    ['Kolkata', { workspaceId: 'w', window: window('Asia/Kolkata'), filter: {} }],
    ['Kolkata by the hour', { workspaceId: 'w', window: window('Asia/Kolkata', 'hour'), filter: {} }],
    ['one user in Kolkata', { workspaceId: 'w', window: window('Asia/Kolkata'), filter: { userId: 'u' } }],
  ];

  for (const generic of [false, true]) {
    it(`are read from the partitions of the months the range covers only (${generic ? 'prepared, generic plan' : 'as sent'})`, async () => {
      for (const [label, scope] of scopes) {
        const { queries, captured } = capturing(t);
        await queries.totals(scope);
        await queries.series(scope);
        await queries.seriesByProvider(scope);
        await queries.byModel(scope);
        await queries.users(scope, {
          sort: 'totalTokens',
          order: 'desc',
          activeSince: new Date('2026-03-01T00:00:00Z'),
          quotaAt: new Date('2026-03-15T00:00:00Z'),
          limit: 10,
          offset: 0,
        });
        await queries.recent(scope, 10);
        const read = new Set<string>();
        for (const { sql, params } of captured) {
          for (const name of await partitionsRead(client, sql, params, generic)) read.add(name);
        }
        expect([...read], label).toContain('usage_records_p202604');
        for (const name of read) {
          expect(['usage_records_p202603', 'usage_records_p202604'], `${label}: ${name}`).toContain(name);
        }
      }
    });
  }
});
