import { randomUUID } from 'node:crypto';
import { inject, injectable } from 'tsyringe';
import { DataSource } from 'typeorm';
import type { ModelRef } from '../../application/ports/price-catalog.port';
import {
  repricingTotals,
  type ModelRepricing,
  type PricedStretch,
  type RepricingOutcome,
  type RepricingRange,
  type RepricingRun,
  type RepricingStore,
  type SkippedHours,
} from '../../application/ports/repricing.port';
import { Decimal } from '../../domain/decimal';
import { FOLD, ROLLUP_LOCK_KEY } from './pg-rollup-folder';
import {
  ALL_DIMENSIONS,
  dimensionOfRecord,
  GRAINS,
  METRICS,
  PENDING,
  ROLLUPS,
  smallestRollup,
  type RollupDefinition,
} from './rollup-registry';

/**
 * A record's cost at a stretch's rates (`s`), as costAt (src/domain/cost.ts) computes it: each
 * token priced once, cache reads and writes carved out of the input, reasoning out of the
 * output, per million; trailing zeros trimmed, as ingest stores a cost. NULL where the stretch has no price. A test holds it to costAt.
 */
export const COST_OF_RECORD = `trim_scale((
  greatest(r.input_tokens - r.cached_input_tokens - r.cache_write_tokens, 0) * s.input
  + greatest(r.cached_input_tokens, 0) * s.cached_input
  + greatest(r.cache_write_tokens, 0) * s.cache_write
  + greatest(r.output_tokens - r.reasoning_tokens, 0) * s.output
  + greatest(r.reasoning_tokens, 0) * s.reasoning) * 0.000001)`;

/** The metrics whose value depends on a record's cost, from the registry: what re-pricing changes. */
const PRICED_METRICS = METRICS.filter((m) => /\bcost\b/.test(m.ofRecord));
const withCost = (expression: string, cost: string) => expression.replace(/\bcost\b/g, cost);
/** A record's change of each priced metric, its new cost against its old. */
const CHANGE = PRICED_METRICS.map(
  (m) => `sum((${withCost(m.ofRecord, 'new_cost')}) - (${withCost(m.ofRecord, 'old_cost')})) AS ${m.name}`,
).join(', ');

/** The records (`r`) of the range whose cost is not the client's. */
const RECORDS_OF_RANGE = `r.workspace_id = $1 AND r.occurred_at >= $3::timestamptz AND r.occurred_at < $4::timestamptz
    AND r.cost_status <> 'provided'
    AND ($5::text IS NULL OR r.provider = $5) AND ($6::text IS NULL OR r.model = $6)`;

/** The stretch (`s`) a record (`r`) falls in. */
const STRETCH_OF_RECORD = `s.provider = r.provider AND s.model = r.model AND r.occurred_at >= s.lo AND r.occurred_at < s.hi`;

/** Those records with their cost now and at the stretches. */
const TARGET = `
stretch AS (
  SELECT * FROM json_to_recordset($2::json) AS s(provider text, model text, lo timestamptz, hi timestamptz,
    input numeric, cached_input numeric, cache_write numeric, output numeric, reasoning numeric)
),
target AS MATERIALIZED (
  SELECT r.occurred_at, r.request_id, ${ALL_DIMENSIONS.map((d) => dimensionOfRecord(d, 'r')).join(', ')}, r.total_tokens,
    r.cost AS old_cost,
    ${COST_OF_RECORD} AS new_cost
  FROM usage_records r JOIN stretch s ON ${STRETCH_OF_RECORD}
  WHERE ${RECORDS_OF_RANGE}
)`;

const SUMMARY = `
SELECT provider, model, count(*)::bigint AS records, coalesce(sum(total_tokens), 0)::bigint AS tokens,
  coalesce(sum(old_cost), 0)::text AS cost_before, coalesce(sum(new_cost), 0)::text AS cost_after,
  count(*) FILTER (WHERE new_cost IS DISTINCT FROM old_cost)::bigint AS repriced,
  count(*) FILTER (WHERE old_cost IS NULL AND new_cost IS NOT NULL)::bigint AS newly_priced,
  count(*) FILTER (WHERE old_cost IS NOT NULL AND new_cost IS NULL)::bigint AS newly_unpriced,
  count(*) FILTER (WHERE old_cost IS NULL)::bigint AS unpriced_before,
  count(*) FILTER (WHERE new_cost IS NULL)::bigint AS unpriced_after
FROM target GROUP BY provider, model ORDER BY provider, model`;

/** The changed records' sums by hour, slot and every dimension: what each rollup's rows change by. */
const FINE_CHANGE = `fine AS (
  SELECT ${GRAINS.hour.ofRecord} AS bucket_start, ${GRAINS.slot.ofRecord} AS slot_start, ${ALL_DIMENSIONS.join(', ')},
    ${CHANGE}
  FROM changed GROUP BY 1, 2, ${ALL_DIMENSIONS.map((_, i) => i + 3).join(', ')}
)`;

/** One rollup's rows changed by the fine sums: a row exists for each (the pending usage was folded first). */
function rollupChange(rollup: RollupDefinition): string {
  const time = GRAINS[rollup.grain].column;
  const key = rollup.key.map((c) =>
    c !== time
      ? c
      : rollup.grain === 'slot'
        ? 'slot_start'
        : rollup.grain === 'hour'
          ? 'bucket_start'
          : GRAINS[rollup.grain].ofStart!('bucket_start'),
  );
  const same = rollup.key.map((c) => `m.${c} = d.${c}`).join(' AND ');
  return `changed_${rollup.table} AS (
  UPDATE ${rollup.table} m SET ${PRICED_METRICS.map((p) => `${p.name} = m.${p.name} + d.${p.name}`).join(', ')}
  FROM (SELECT ${key.map((k, i) => `${k} AS ${rollup.key[i]}`).join(', ')}, ${PRICED_METRICS.map((p) => `sum(${p.name}) AS ${p.name}`).join(', ')}
        FROM fine GROUP BY ${key.map((_, i) => i + 1).join(', ')}) d
  WHERE m.workspace_id = $1 AND ${same}
  RETURNING 1
)`;
}

/**
 * One statement, one snapshot: the records whose cost changes get it, and every rollup's rows
 * change by exactly their records' difference, so each equals a recomputation afterwards.
 */
const APPLY = `
WITH ${TARGET},
changed AS MATERIALIZED (SELECT * FROM target WHERE new_cost IS DISTINCT FROM old_cost),
-- the same rows as changed (same snapshot, same conditions), updated in place as a plain
-- UPDATE would: joining them back to changed by key probes every partition's index per row
updated AS (
  UPDATE usage_records r SET cost = ${COST_OF_RECORD},
    cost_status = CASE WHEN ${COST_OF_RECORD} IS NULL THEN 'unpriced' ELSE 'computed' END
  FROM stretch s
  WHERE ${RECORDS_OF_RANGE} AND ${STRETCH_OF_RECORD}
    AND (${COST_OF_RECORD}) IS DISTINCT FROM r.cost
  RETURNING 1
),
${FINE_CHANGE},
${ROLLUPS.map(rollupChange).join(',\n')}
${SUMMARY}`;

const DRY_RUN = `WITH ${TARGET} ${SUMMARY}`;

/** The months of the range whose raw partition is gone, yet the hourly rollup has usage of. */
const HOURLY = smallestRollup('hour', ['provider', 'model']);
const MONTHS_WITHOUT_RECORDS = `
SELECT m AS month_start FROM generate_series(date_trunc('month', $2::timestamptz, 'UTC'), $3::timestamptz, interval '1 month') m
WHERE m < $3::timestamptz
  AND NOT EXISTS (
    SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = 'usage_records'::regclass
      AND c.relname = 'usage_records_p' || to_char(m AT TIME ZONE 'UTC', 'YYYYMM'))
  AND EXISTS (
    SELECT 1 FROM ${HOURLY.table} h WHERE h.workspace_id = $1
      AND h.bucket_start >= greatest(m, date_trunc('hour', $2::timestamptz, 'UTC'))
      AND h.bucket_start < least(m + interval '1 month', $3::timestamptz)
      AND ($4::text IS NULL OR h.provider = $4) AND ($5::text IS NULL OR h.model = $5))
ORDER BY m`;

export const RAW_GONE =
  'the raw records of these hours are gone (RAW_RETENTION_DAYS); re-pricing them from the hourly rollup is not supported yet';

interface SummaryRow {
  provider: string;
  model: string;
  records: string;
  tokens: string;
  cost_before: string;
  cost_after: string;
  repriced: string;
  newly_priced: string;
  newly_unpriced: string;
  unpriced_before: string;
  unpriced_after: string;
}

const toModel = (row: SummaryRow): ModelRepricing => ({
  provider: row.provider,
  model: row.model,
  records: Number(row.records),
  tokens: Number(row.tokens),
  costBefore: Decimal.parse(row.cost_before),
  costAfter: Decimal.parse(row.cost_after),
  repriced: Number(row.repriced),
  newlyPriced: Number(row.newly_priced),
  newlyUnpriced: Number(row.newly_unpriced),
  unpricedBefore: Number(row.unpriced_before),
  unpricedAfter: Number(row.unpriced_after),
});

/** As the audit keeps it: decimals as strings. */
type StoredModel = Omit<ModelRepricing, 'costBefore' | 'costAfter'> & { costBefore: string; costAfter: string };
type StoredSkip = { from: string; to: string; reason: string };

interface RunRow {
  id: string;
  created_at: Date;
  created_by: string;
  range_from: Date;
  range_to: Date;
  provider: string | null;
  model: string | null;
  models: StoredModel[];
  skipped_hours: StoredSkip[];
  workspace_id: string;
}

const toRun = (row: RunRow): RepricingRun => ({
  id: row.id,
  workspaceId: row.workspace_id,
  createdAt: row.created_at,
  createdBy: row.created_by,
  from: row.range_from,
  to: row.range_to,
  ...(row.provider !== null && { provider: row.provider }),
  ...(row.model !== null && { model: row.model }),
  models: row.models.map((m) => ({
    ...m,
    costBefore: Decimal.parse(m.costBefore),
    costAfter: Decimal.parse(m.costAfter),
  })),
  skippedHours: row.skipped_hours.map((s) => ({ from: new Date(s.from), to: new Date(s.to), reason: s.reason })),
});

type Query = (sql: string, params: unknown[]) => Promise<unknown>;

@injectable()
export class PgRepricing implements RepricingStore {
  constructor(@inject(DataSource) private readonly db: DataSource) {}

  async modelsSeen(range: RepricingRange): Promise<ModelRef[]> {
    // the hours the range touches, in the hourly rollup and in what is pending for it
    const seen = (table: string) => `SELECT provider, model FROM ${table}
      WHERE workspace_id = $1 AND bucket_start >= date_trunc('hour', $2::timestamptz, 'UTC') AND bucket_start < $3::timestamptz
        AND ($4::text IS NULL OR provider = $4) AND ($5::text IS NULL OR model = $5)`;
    return (await this.db.query(
      `SELECT DISTINCT provider, model FROM (${seen(HOURLY.table)} UNION ALL ${seen(PENDING.table)}) s ORDER BY 1, 2`,
      this.rangeParams(range),
    )) as ModelRef[];
  }

  async reprice(
    range: RepricingRange,
    stretches: PricedStretch[],
    apply: { createdBy: string } | null,
  ): Promise<RepricingOutcome> {
    const params = [
      range.workspaceId,
      JSON.stringify(
        stretches.map((s) => ({
          provider: s.provider,
          model: s.model,
          lo: s.from?.toISOString() ?? '-infinity',
          hi: s.to?.toISOString() ?? 'infinity',
          input: s.rates?.input.toString() ?? null,
          cached_input: s.rates?.cachedInput.toString() ?? null,
          cache_write: s.rates?.cacheWrite.toString() ?? null,
          output: s.rates?.output.toString() ?? null,
          reasoning: s.rates?.reasoning.toString() ?? null,
        })),
      ),
      range.from.toISOString(),
      range.to.toISOString(),
      range.provider ?? null,
      range.model ?? null,
    ];
    if (apply === null) {
      const [rows, skippedHours] = await Promise.all([
        this.db.query(DRY_RUN, params) as Promise<SummaryRow[]>,
        this.skippedHours((sql, p) => this.db.query(sql, p), range),
      ]);
      return { id: null, models: rows.map(toModel), skippedHours };
    }
    return this.applied(range, params, apply.createdBy);
  }

  /**
   * Under the fold's lock, taken before the snapshot (as erasure does): the pending usage is
   * folded first, inside the transaction, so every record of the snapshot is in the rollups
   * and none of it is pending; a batch that commits meanwhile is outside the snapshot,
   * untouched, priced at ingest. Ingest never waits: it only inserts, and the rows updated
   * here are old ones. Readers see all of it or none.
   */
  private async applied(range: RepricingRange, params: unknown[], createdBy: string): Promise<RepricingOutcome> {
    const runner = this.db.createQueryRunner();
    await runner.connect();
    try {
      await runner.query('SELECT pg_advisory_lock($1)', [ROLLUP_LOCK_KEY]);
      try {
        await runner.startTransaction('REPEATABLE READ');
        try {
          await runner.query(`SET LOCAL work_mem = '64MB'`);
          for (;;) {
            const [folded] = (await runner.query(FOLD)) as Array<{ rows: number }>;
            if ((folded?.rows ?? 0) === 0) break;
          }
          const models = ((await runner.query(APPLY, params)) as SummaryRow[]).map(toModel);
          const skippedHours = await this.skippedHours((sql, p) => runner.query(sql, p), range);
          const totals = repricingTotals(models, Decimal.parse('0'));
          const id = randomUUID();
          await runner.query(
            `INSERT INTO repricing_runs (workspace_id, id, created_by, range_from, range_to, provider, model, records,
               repriced, cost_before, cost_after, unpriced_before, unpriced_after, models, skipped_hours)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14::jsonb, $15::jsonb)`,
            [
              range.workspaceId,
              id,
              createdBy,
              range.from.toISOString(),
              range.to.toISOString(),
              range.provider ?? null,
              range.model ?? null,
              totals.records,
              totals.repriced,
              totals.costBefore.toString(),
              totals.costAfter.toString(),
              totals.unpricedBefore,
              totals.unpricedAfter,
              JSON.stringify(
                models.map((m) => ({ ...m, costBefore: m.costBefore.toString(), costAfter: m.costAfter.toString() })),
              ),
              JSON.stringify(skippedHours.map((s) => ({ ...s, from: s.from.toISOString(), to: s.to.toISOString() }))),
            ],
          );
          await runner.commitTransaction();
          return { id, models, skippedHours };
        } catch (error) {
          await runner.rollbackTransaction();
          throw error;
        }
      } finally {
        await runner.query('SELECT pg_advisory_unlock($1)', [ROLLUP_LOCK_KEY]);
      }
    } finally {
      await runner.release();
    }
  }

  private rangeParams(range: RepricingRange): unknown[] {
    return [
      range.workspaceId,
      range.from.toISOString(),
      range.to.toISOString(),
      range.provider ?? null,
      range.model ?? null,
    ];
  }

  private async skippedHours(query: Query, range: RepricingRange): Promise<SkippedHours[]> {
    const months = (await query(MONTHS_WITHOUT_RECORDS, this.rangeParams(range))) as Array<{ month_start: Date }>;
    return months.map(({ month_start }) => {
      const end = Date.UTC(month_start.getUTCFullYear(), month_start.getUTCMonth() + 1, 1);
      const firstHour = Math.floor(range.from.getTime() / 3_600_000) * 3_600_000;
      return {
        from: new Date(Math.max(month_start.getTime(), firstHour)),
        to: new Date(Math.min(end, range.to.getTime())),
        reason: RAW_GONE,
      };
    });
  }

  async runs(workspaceId: string, limit: number, offset: number): Promise<{ items: RepricingRun[]; total: number }> {
    const [counted] = (await this.db.query(
      `SELECT count(*)::int AS total FROM repricing_runs WHERE workspace_id = $1`,
      [workspaceId],
    )) as Array<{ total: number }>;
    const rows = (await this.db.query(
      `SELECT * FROM repricing_runs WHERE workspace_id = $1 ORDER BY created_at DESC, id LIMIT $2 OFFSET $3`,
      [workspaceId, limit, offset],
    )) as RunRow[];
    return { items: rows.map(toRun), total: counted?.total ?? 0 };
  }

  async run(workspaceId: string, id: string): Promise<RepricingRun | null> {
    const [row] = (await this.db.query(`SELECT * FROM repricing_runs WHERE workspace_id = $1 AND id = $2`, [
      workspaceId,
      id,
    ])) as RunRow[];
    return row ? toRun(row) : null;
  }
}
