import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDataSource, migrate } from '../../src/infrastructure/persistence/data-source';
import { foldPending } from '../../src/infrastructure/persistence/pg-rollup-folder';
import {
  columnsOf,
  GRAINS,
  LAST_OCCURRENCE,
  metricsOf,
  PENDING,
  PENDING_COLUMNS,
  ROLLUPS,
} from '../../src/infrastructure/persistence/rollup-registry';
import { createBlankDatabase } from '../support/blank-database';
import { ingest, usageRecords } from '../support/records';
import { bearer, createTestApp, type TestApp } from '../support/test-app';
import { rollupsAndRecomputations } from '../support/usage-checks';

interface LiveTable {
  table: string;
  columns: Array<{ name: string; type: string; nullable: boolean }>;
  key: string[];
  /** columns the primary key index carries beside its key (INCLUDE) */
  carried: string[];
}

async function liveTables(db: { query(sql: string): Promise<unknown> }): Promise<LiveTable[]> {
  return (await db.query(`
    SELECT c.relname AS table,
      (SELECT json_agg(json_build_object('name', a.attname, 'type', format_type(a.atttypid, a.atttypmod),
                       'nullable', NOT a.attnotnull) ORDER BY a.attnum)
       FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped) AS columns,
      coalesce((SELECT array_agg(a.attname::text ORDER BY k.ord)
       FROM pg_index i CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
       JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
       WHERE i.indrelid = c.oid AND i.indisprimary AND k.ord <= i.indnkeyatts), '{}') AS key,
      coalesce((SELECT array_agg(a.attname::text ORDER BY k.ord)
       FROM pg_index i CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
       JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
       WHERE i.indrelid = c.oid AND i.indisprimary AND k.ord > i.indnkeyatts), '{}') AS carried
    FROM pg_class c
    WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND c.relnamespace = 'public'::regnamespace
    ORDER BY c.relname`)) as LiveTable[];
}

/** What the registry says a rollup's table looks like. */
function expectedTable(rollup: (typeof ROLLUPS)[number]): LiveTable {
  const time = GRAINS[rollup.grain].column;
  const types = new Map(
    metricsOf(rollup).map((m) => [m.name, m.type === 'timestamptz' ? 'timestamp with time zone' : m.type]),
  );
  return {
    table: rollup.table,
    columns: columnsOf(rollup).map((name) => ({
      name,
      type: name === time ? 'timestamp with time zone' : (types.get(name) ?? 'text'),
      nullable: false,
    })),
    key: ['workspace_id', ...rollup.key],
    carried: [...(rollup.carried ?? [])],
  };
}

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => t.close());

describe('the rollup registry', () => {
  it('matches the live schema: every rollup table, its columns, types and primary key (with what it carries), and no other', async () => {
    const live = await liveTables(t.db);
    // a column added later comes last in its table; every statement names its columns, so
    // their order is no part of the schema
    const byName = (table: LiveTable | undefined) =>
      table && { ...table, columns: [...table.columns].sort((a, b) => a.name.localeCompare(b.name)) };
    for (const rollup of ROLLUPS) {
      expect(byName(live.find((l) => l.table === rollup.table))).toEqual(byName(expectedTable(rollup)));
    }
    // every table that keeps request sums is a rollup of the registry, the pending queue or raw
    const summing = live.filter((l) => l.columns.some((c) => c.name === 'requests')).map((l) => l.table);
    expect(summing.sort()).toEqual([...ROLLUPS.map((r) => r.table), PENDING.table].sort());
    const pending = live.find((l) => l.table === PENDING.table)!;
    expect(pending.columns.map((c) => c.name).sort()).toEqual([...PENDING_COLUMNS].sort());
    expect(pending.columns.every((c) => !c.nullable)).toBe(true);
  });

  it('keeps the latest occurrence only where a user’s last activity is read', () => {
    expect(ROLLUPS.filter((r) => r.keepsLastOccurrence).map((r) => r.table)).toEqual([
      'usage_daily_users',
      'usage_monthly_users',
    ]);
    expect(PENDING_COLUMNS).toContain(LAST_OCCURRENCE.name);
  });
});

describe('the baseline migration', () => {
  it('recognises a database built by the migrations it replaced and brings it to the same schema, data kept', async () => {
    const legacy = await createBlankDatabase();
    const fresh = await createBlankDatabase();
    try {
      const old = createDataSource(legacy.url, 2);
      await old.initialize();
      await old.query(readFileSync(new URL('../fixtures/squashed-chain.sql', import.meta.url), 'utf8'));
      await old.query(`CREATE TABLE usage_records_p202606 PARTITION OF usage_records
                       FOR VALUES FROM ('2026-06-01T00:00:00Z') TO ('2026-07-01T00:00:00Z')`);
      // two records, one folded into the rollups, one still pending from before the slots existed
      await old.query(`INSERT INTO usage_records (workspace_id, occurred_at, request_id, user_id, provider, model,
          input_tokens, output_tokens, total_tokens, success, cost, cost_status)
        VALUES ('w', '2026-06-01T10:20:00Z', 'r1', 'u', 'openai', 'gpt-4o', 10, 5, 15, true, 0.5, 'computed'),
               ('w', '2026-06-01T10:50:00Z', 'r2', 'u', 'openai', 'gpt-4o', 20, 5, 25, true, 0.25, 'computed')`);
      const metrics = `requests, errors, input_tokens, output_tokens, cached_input_tokens, cache_write_tokens,
        reasoning_tokens, total_tokens, duration_ms_sum, duration_count, cost, unpriced_requests`;
      for (const table of ['usage_hourly_models', 'usage_hourly_providers', 'usage_daily_models']) {
        const [time, dims] =
          table === 'usage_daily_models'
            ? [`day_start`, `provider, model`]
            : table === 'usage_hourly_providers'
              ? ['bucket_start', 'provider']
              : ['bucket_start', 'provider, model'];
        const values = dims === 'provider' ? `'openai'` : `'openai', 'gpt-4o'`;
        const at = time === 'day_start' ? '2026-06-01T00:00:00Z' : '2026-06-01T10:00:00Z';
        await old.query(`INSERT INTO ${table} (workspace_id, ${time}, ${dims}, ${metrics})
                         VALUES ('w', '${at}', ${values}, 1, 0, 10, 5, 0, 0, 0, 15, 0, 0, 0.5, 0)`);
      }
      // the slots were built from the raw records: both records are in them
      await old.query(`INSERT INTO usage_slot_providers (workspace_id, slot_start, provider, ${metrics}) VALUES
        ('w', '2026-06-01T10:15:00Z', 'openai', 1, 0, 10, 5, 0, 0, 0, 15, 0, 0, 0.5, 0),
        ('w', '2026-06-01T10:45:00Z', 'openai', 1, 0, 20, 5, 0, 0, 0, 25, 0, 0, 0.25, 0)`);
      await old.query(`INSERT INTO usage_pending (workspace_id, bucket_start, slot_start, user_id, provider, model,
          ${metrics}, last_occurred_at)
        VALUES ('w', '2026-06-01T10:00:00Z', NULL, 'u', 'openai', 'gpt-4o', 1, 0, 20, 5, 0, 0, 0, 25, 0, 0, 0.25, 0,
                '2026-06-01T10:50:00Z')`);
      await old.destroy();

      const upgraded = createDataSource(legacy.url, 2);
      await upgraded.initialize();
      await migrate(upgraded);
      const created = createDataSource(fresh.url, 2);
      await created.initialize();
      await migrate(created);
      try {
        const names = async (db: typeof upgraded) =>
          ((await db.query(`SELECT name FROM migrations ORDER BY id`)) as Array<{ name: string }>).map((r) => r.name);
        expect(await names(upgraded)).toEqual(await names(created));
        const shape = (tables: LiveTable[]) =>
          tables
            .filter((l) => !l.table.startsWith('usage_records_p'))
            .map((l) => ({ ...l, columns: [...l.columns].sort((a, b) => a.name.localeCompare(b.name)) }));
        expect(shape(await liveTables(upgraded))).toEqual(shape(await liveTables(created)));

        // the record pending without a slot lands in its own slot once folded
        await foldPending(upgraded);
        const slots = (await upgraded.query(
          `SELECT slot_start::text, requests::int, total_tokens::int, cost::text FROM usage_slot_providers
           WHERE requests <> 0 ORDER BY slot_start`,
        )) as unknown[];
        expect(slots).toEqual([
          { slot_start: '2026-06-01 10:15:00+00', requests: 1, total_tokens: 15, cost: '0.5' },
          { slot_start: '2026-06-01 10:45:00+00', requests: 1, total_tokens: 25, cost: '0.25' },
        ]);
        const [hour] = (await upgraded.query(
          `SELECT requests::int, total_tokens::int FROM usage_hourly_models WHERE workspace_id = 'w'`,
        )) as unknown[];
        expect(hour).toEqual({ requests: 2, total_tokens: 40 });
      } finally {
        await upgraded.destroy();
        await created.destroy();
      }
    } finally {
      await legacy.drop();
      await fresh.drop();
    }
  });
});

describe('the fold', () => {
  it('leaves every rollup equal to its recomputation from the raw records (the registry’s definition)', async () => {
    const admin = bearer(t.token('root', { role: 'admin' }));
    await ingest(
      t,
      admin,
      usageRecords(40, (i) => ({
        occurredAt: new Date(Date.UTC(2026, 5, 30, 22) + i * 7 * 60_000).toISOString(),
        userId: `user-${i % 3}`,
        provider: i % 2 ? 'openai' : 'anthropic',
        model: i % 2 ? 'gpt-4o' : 'claude-3-5-sonnet',
        inputTokens: 100 + i,
        outputTokens: 10 * i,
        durationMs: i % 4 ? 100 * i : undefined,
        success: i % 5 !== 0,
      })),
      { expectAccepted: true },
    );
    for (const { table, rollup, recomputed } of await rollupsAndRecomputations(t.db)) {
      expect(rollup.length, table).toBeGreaterThan(0);
      expect(rollup, table).toEqual(recomputed);
    }
  });
});
