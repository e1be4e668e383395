/**
 * The query part's dataset, loaded straight with SQL: raw records and their dedup ledger rows;
 * the rollups are built from them by the service's own fold. Same shape as the ingest dataset: 1k users
 * (user-0000 the heaviest), each with three favourite models, 60 models, priced from the
 * service's own catalog (the self-hosted ones unpriced), evenly spread over the last 90 days.
 */
import { loadavg } from 'node:os';
import type pg from 'pg';
import { seedBuiltInCatalog } from '../src/infrastructure/catalog/seed-catalog';
import { createDataSource, migrate } from '../src/infrastructure/persistence/data-source';
import { ensurePartitions } from '../src/infrastructure/persistence/partitions';
import { expectTotals, storedTotals } from './checks';
import { connect } from './database';
import { MODELS, USERS, WORKSPACE, type Shape } from './dataset';
import { Progress, note } from './progress';
import { foldPending } from '../src/infrastructure/persistence/pg-rollup-folder';
import {
  PENDING,
  PENDING_COLUMNS,
  pendingFromRecords,
  ROLLUPS,
} from '../src/infrastructure/persistence/rollup-registry';

export const QUERY_SPAN_DAYS = 90;
const DAY_MS = 86_400_000;
const CHUNK_ROWS = 200_000;
const LOAD_CONNECTIONS = 2;

const uniform = (k: number): string => `((hashint8extended(g, $7::bigint + ${k}) & 2147483647)::float8 / 2147483648)`;

const LOAD_CHUNK = `
WITH s AS (
  SELECT g, floor(${USERS} * ${uniform(1)} ^ 2)::int AS u, ${uniform(2)} AS r2, ${uniform(3)} AS r3,
    ${uniform(4)} AS r4, ${uniform(5)} AS r5, ${uniform(6)} AS r6, ${uniform(7)} AS r7, ${uniform(8)} AS r8,
    ${uniform(9)} AS r9, ${uniform(10)} AS r10, ${uniform(11)} AS r11, ${uniform(12)} AS r12
  FROM generate_series($1::bigint, $2::bigint) AS g
), t AS (
  SELECT s.*, m.provider, m.model, m.reasoning, m.input_pm, m.output_pm, m.cached_pm,
    greatest($4::timestamptz, least($4::timestamptz + make_interval(secs => $5::float8),
      $4::timestamptz + make_interval(secs => ((g - 0.5) / $3::float8) * $5::float8 + (r4 - 0.5) * 600))) AS occurred_at,
    100 + floor(20000 * (r5 ^ 3))::bigint AS input_tokens,
    r10 < 0.02 AS failed
  FROM s JOIN bench_models m ON m.idx = CASE
    WHEN $8::text = 'any' THEN floor(r3 * ${MODELS.length})::int
    WHEN r2 < 0.45 THEN (u * 7) % ${MODELS.length}
    WHEN r2 < 0.7 THEN (u * 13 + 5) % ${MODELS.length}
    WHEN r2 < 0.85 THEN (u * 31 + 11) % ${MODELS.length}
    ELSE floor(r3 * ${MODELS.length})::int END
), v AS (
  SELECT t.*,
    CASE WHEN r6 < 0.4 THEN floor(input_tokens * (0.3 + 0.6 * r7))::bigint ELSE 0 END AS cached,
    CASE WHEN failed THEN 0 ELSE 20 + floor(3000 * (r8 ^ 2))::bigint END AS output_tokens
  FROM t
), rows AS MATERIALIZED (
  SELECT $6::text AS workspace_id, occurred_at,
    'chatcmpl-' || lpad(to_hex(g), 8, '0') || lpad(to_hex(hashint8extended(g, $7::bigint + 99) & 281474976710655), 12, '0')
      AS request_id,
    'user-' || lpad(u::text, 4, '0') AS user_id, provider, model,
    CASE WHEN r11 < 0.9 THEN 'chat' ELSE 'completion' END AS operation,
    input_tokens, output_tokens, cached AS cached_input_tokens, 0::bigint AS cache_write_tokens,
    CASE WHEN reasoning THEN floor(output_tokens * 0.6 * r9)::bigint ELSE 0 END AS reasoning_tokens,
    input_tokens + output_tokens AS total_tokens,
    (200 + output_tokens * 15 + floor(2000 * r11))::int AS duration_ms,
    NOT failed AS success, CASE WHEN failed THEN 'rate_limit_exceeded' END AS error,
    CASE WHEN input_pm IS NOT NULL THEN round(((input_tokens - cached) * input_pm
      + cached * coalesce(cached_pm, input_pm) + output_tokens * output_pm) / 1000000, 12) END AS cost,
    CASE WHEN input_pm IS NOT NULL THEN 'computed' ELSE 'unpriced' END AS cost_status,
    CASE WHEN r12 < 0.7 THEN jsonb_build_object('app',
      (ARRAY['support-bot', 'code-assistant', 'search', 'summarizer', 'agent'])[1 + floor(r12 * 7)::int % 5],
      'env', 'prod') END AS metadata
  FROM v
), ledger AS (
  INSERT INTO usage_request_ids (workspace_id, request_id, occurred_at)
  SELECT workspace_id, request_id, occurred_at FROM rows
)
INSERT INTO usage_records (workspace_id, occurred_at, request_id, user_id, provider, model, operation,
  input_tokens, output_tokens, cached_input_tokens, cache_write_tokens, reasoning_tokens, total_tokens,
  duration_ms, success, error, cost, cost_status, metadata)
SELECT * FROM rows`;

export interface QueryDataset {
  rows: number;
  /** rows of each rollup table */
  rollupRows: Record<string, number>;
  pricedModels: number;
  start: string;
  end: string;
  loadSeconds: number;
  /** queueing the records' sums and folding them with the service's fold */
  rollupSeconds: number;
  foldSeconds: number;
  pendingRows: number;
  vacuumSeconds: number;
  /** 1-minute load average at the end of loading, rollup building and vacuuming */
  loadAverages: [number, number, number];
  sizesMB: Record<string, number>;
}

/** Runs the chunks on a few connections at once, each chunk a statement of its own. */
async function inParallel<T>(
  url: string,
  chunks: T[],
  run: (client: pg.Client, chunk: T) => Promise<number>,
  progress: Progress,
  doneBefore = 0,
): Promise<void> {
  let next = 0;
  let done = doneBefore;
  const worker = async (): Promise<void> => {
    const client = await connect(url);
    try {
      await client.query(`SET synchronous_commit = off; SET work_mem = '128MB'`);
      for (let i = next++; i < chunks.length; i = next++) {
        done += await run(client, chunks[i]!);
        progress.update(done);
      }
    } finally {
      await client.end();
    }
  };
  await Promise.all(Array.from({ length: LOAD_CONNECTIONS }, worker));
}

async function createBenchModels(client: pg.Client): Promise<number> {
  await client.query(`DROP TABLE IF EXISTS bench_models`);
  await client.query(`CREATE TABLE bench_models (idx int PRIMARY KEY, provider text, model text, reasoning boolean,
    input_pm numeric, output_pm numeric, cached_pm numeric)`);
  await client.query(
    `INSERT INTO bench_models
     SELECT t.idx, t.provider, t.model, t.reasoning, p.input_per_million, p.output_per_million, p.cached_input_per_million
     FROM unnest($1::int[], $2::text[], $3::text[], $4::boolean[]) AS t(idx, provider, model, reasoning)
     LEFT JOIN models m ON m.workspace_id = '' AND m.provider = t.provider AND m.model = t.model
     LEFT JOIN LATERAL (SELECT * FROM model_prices mp WHERE mp.workspace_id = m.workspace_id AND mp.model_id = m.id
       AND mp.effective_from <= now() ORDER BY mp.effective_from DESC LIMIT 1) p ON true`,
    [
      MODELS.map((_, i) => i),
      MODELS.map((m) => m.provider),
      MODELS.map((m) => m.model),
      MODELS.map((m) => m.reasoning),
    ],
  );
  const row = (await client.query(`SELECT count(input_pm) AS n FROM bench_models`)).rows[0] as { n: string };
  return Number(row.n);
}

/** Creates the monthly partitions of a raw retention window (and two days ahead), as a service keeping that much would have. */
export async function addPartitionsFor(url: string, rawRetentionDays: number): Promise<void> {
  const now = Date.now();
  const dataSource = createDataSource(url, 1);
  await dataSource.initialize();
  try {
    await ensurePartitions(
      dataSource,
      new Date(Math.min(now - (QUERY_SPAN_DAYS + 1) * DAY_MS, now - rawRetentionDays * DAY_MS)),
      new Date(now + 2 * DAY_MS),
    );
  } finally {
    await dataSource.destroy();
  }
}

export async function loadQueryDataset(
  url: string,
  rows: number,
  seed: number,
  shape: Shape,
  rawRetentionDays: number,
): Promise<QueryDataset> {
  const now = Date.now();
  const start = new Date(now - QUERY_SPAN_DAYS * DAY_MS);
  const spanSeconds = (QUERY_SPAN_DAYS * DAY_MS - 10 * 60_000) / 1000;

  // the schema and the built-in catalog, as the service sets them up at start
  const setup = createDataSource(url, 2);
  await setup.initialize();
  try {
    await migrate(setup);
    await seedBuiltInCatalog(setup);
  } finally {
    await setup.destroy();
  }
  await addPartitionsFor(url, rawRetentionDays);

  const client = await connect(url);
  try {
    const pricedModels = await createBenchModels(client);
    if (pricedModels < MODELS.length - 3)
      note(`warning: only ${pricedModels} of ${MODELS.length} bench models have a catalog price`);

    const chunks: Array<[number, number]> = [];
    for (let from = 1; from <= rows; from += CHUNK_ROWS) chunks.push([from, Math.min(rows, from + CHUNK_ROWS - 1)]);
    const load = new Progress(`loading ${rows} raw rows + ledger with SQL`, rows, 'rows');
    await inParallel(
      url,
      chunks,
      async (c, [from, to]) => {
        await c.query(LOAD_CHUNK, [from, to, rows, start.toISOString(), spanSeconds, WORKSPACE, seed, shape]);
        return to - from + 1;
      },
      load,
    );
    const loadSeconds = load.finish();
    const loadAverages: [number, number, number] = [loadavg()[0]!, 0, 0];

    // the rollups as the service builds them: the sums of the stored records queued as ingest
    // queues them (one UTC day per statement), then moved into every rollup by the service's
    // own fold
    const days: Array<[Date, Date]> = [];
    for (
      let day = Date.UTC(start.getUTCFullYear(), start.getUTCMonth(), start.getUTCDate());
      day < now + DAY_MS;
      day += DAY_MS
    ) {
      days.push([new Date(day), new Date(day + DAY_MS)]);
    }
    const queue = new Progress("queueing the records' sums for the fold", days.length, 'days');
    const queueSql = `INSERT INTO ${PENDING.table} (${PENDING_COLUMNS.join(', ')})
      ${pendingFromRecords('(SELECT * FROM usage_records WHERE workspace_id = $1 AND occurred_at >= $2 AND occurred_at < $3) r')}`;
    await inParallel(
      url,
      days,
      async (c, [from, to]) => {
        await c.query(queueSql, [WORKSPACE, from, to]);
        return 1;
      },
      queue,
    );
    const queueSeconds = queue.finish();
    await client.query(`VACUUM ANALYZE ${PENDING.table}`);
    const pending = Number(
      ((await client.query(`SELECT count(*) AS n FROM ${PENDING.table}`)).rows[0] as { n: string }).n,
    );
    note(`folding ${pending} pending rows with the service's fold`);
    const foldStarted = performance.now();
    const folder = createDataSource(url, 1);
    await folder.initialize();
    try {
      // the service's own background fold may hold the fold lock meanwhile: until none is left
      for (;;) {
        await foldPending(folder);
        const [left] = (await folder.query(`SELECT EXISTS (SELECT 1 FROM ${PENDING.table}) AS any`)) as Array<{
          any: boolean;
        }>;
        if (!left?.any) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    } finally {
      await folder.destroy();
    }
    const foldSeconds = (performance.now() - foldStarted) / 1000;
    note(`folded in ${foldSeconds.toFixed(1)} s (${Math.round(pending / foldSeconds)} pending rows/s)`);
    const rollupSeconds = queueSeconds + foldSeconds;
    loadAverages[1] = loadavg()[0]!;

    const rollupTables = ROLLUPS.map((r) => r.table);
    note('VACUUM ANALYZE, CHECKPOINT');
    const vacuumStarted = performance.now();
    await client.query(`VACUUM ANALYZE usage_records, usage_request_ids, ${PENDING.table}, ${rollupTables.join(', ')}`);
    // the load's dirty pages written now, not by a checkpoint in the middle of the calls
    await client.query('CHECKPOINT').catch(() => undefined); // needs superuser or pg_checkpoint
    const vacuumSeconds = (performance.now() - vacuumStarted) / 1000;
    loadAverages[2] = loadavg()[0]!;

    const totals = await storedTotals(client, WORKSPACE);
    expectTotals(totals, rows, null);
    const sizes = (
      await client.query(`SELECT
        (SELECT sum(pg_total_relation_size(inhrelid)) FROM pg_inherits WHERE inhparent = 'usage_records'::regclass) AS usage_records,
        pg_total_relation_size('usage_request_ids') AS usage_request_ids,
        ${rollupTables.map((t) => `pg_total_relation_size('${t}') AS ${t}`).join(', ')}`)
    ).rows[0] as Record<string, string>;
    return {
      rows,
      rollupRows: Object.fromEntries(Object.entries(totals.rollups).map(([t, r]) => [t, r.rows])),
      pricedModels,
      start: start.toISOString(),
      end: new Date(start.getTime() + spanSeconds * 1000).toISOString(),
      loadSeconds,
      rollupSeconds,
      foldSeconds,
      pendingRows: pending,
      vacuumSeconds,
      loadAverages,
      sizesMB: Object.fromEntries(Object.entries(sizes).map(([k, v]) => [k, Math.round(Number(v) / 1048576)])),
    };
  } finally {
    await client.end();
  }
}
