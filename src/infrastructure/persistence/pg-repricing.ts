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
import type { EffectiveRates, RateName } from '../../domain/cost';
import { Decimal } from '../../domain/decimal';
import { foldAllPendingIn } from './pg-rollup-folder';
import { quotaAlertCtes, thresholdsReachedSql } from './quota-alert-sql';
import { quotaPeriodStartSql, workspaceZoneSql } from './quota-counting';
import { withRollupLock } from './rollup-lock';
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

/** A record's cost at one set of a stretch's rates (`s`, the tier's prefixed `long_`). */
const costAtRates = (r: string, s: string, tier = ''): string => `trim_scale((
  greatest(${r}.input_tokens - ${r}.cached_input_tokens - ${r}.cache_write_tokens, 0) * ${s}.${tier}input
  + greatest(${r}.cached_input_tokens, 0) * ${s}.${tier}cached_input
  + greatest(${r}.cache_write_tokens - ${r}.cache_write_1h_tokens, 0) * ${s}.${tier}cache_write
  + greatest(${r}.cache_write_1h_tokens, 0) * ${s}.${tier}cache_write_1h
  + greatest(${r}.output_tokens - ${r}.reasoning_tokens, 0) * ${s}.${tier}output
  + greatest(${r}.reasoning_tokens, 0) * ${s}.${tier}reasoning) * 0.000001)`;

/**
 * A record's cost at a stretch's rates (`s`), as costAt (src/domain/cost.ts) computes it: at
 * the long-context tier's rates when its input is above the tier's threshold; each token
 * priced once, cache reads and writes carved out of the input (one-hour writes out of the
 * writes), reasoning out of the output, per million; trailing zeros trimmed, as ingest stores
 * a cost. NULL where the stretch has no price. A test holds it to costAt.
 */
const costOf = (
  r: string,
  s: string,
): string => `CASE WHEN ${s}.long_above IS NOT NULL AND ${r}.input_tokens > ${s}.long_above
  THEN ${costAtRates(r, s, 'long_')} ELSE ${costAtRates(r, s)} END`;
export const COST_OF_RECORD = costOf('r', 's');

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

/** The second of the UTC day an instant (`at`) falls in, with its fraction. */
const secondOfDaySql = (at: string) => `extract(epoch FROM ${at} - date_trunc('day', ${at}, 'UTC'))`;

/** The stretch (`s`) a record (`r`) falls in: its model, its time, and its part of the day if the stretch has one. */
export const STRETCH_OF_RECORD = `s.provider = r.provider AND s.model = r.model AND r.occurred_at >= s.lo AND r.occurred_at < s.hi
    AND (s.part_start IS NULL OR (${secondOfDaySql('r.occurred_at')} >= s.part_start
      AND ${secondOfDaySql('r.occurred_at')} < s.part_end))`;

/** A stretch's rates, each with its column (the long-context tier's prefixed `long_`). */
const RATE_COLUMN: Record<RateName, string> = {
  input: 'input',
  cachedInput: 'cached_input',
  cacheWrite: 'cache_write',
  cacheWrite1h: 'cache_write_1h',
  output: 'output',
  reasoning: 'reasoning',
};
const RATE_COLUMNS = Object.values(RATE_COLUMN);
const STRETCH_RATES = ['long_above', ...RATE_COLUMNS, ...RATE_COLUMNS.map((c) => `long_${c}`)];

/** A stretch as JSON gives it to SQL (stretchRecord): the columns and their types. */
export const STRETCH_COLUMNS = `provider text, model text, lo timestamptz, hi timestamptz,
    part_start integer, part_end integer, long_above bigint,
    ${[...RATE_COLUMNS, ...RATE_COLUMNS.map((c) => `long_${c}`)].map((c) => `${c} numeric`).join(', ')}`;

/** The price stretches ($2): each model's rates over [lo, hi), and its long-context tier's. */
const STRETCH = `
stretch AS (
  SELECT * FROM json_to_recordset($2::json) AS s(${STRETCH_COLUMNS})
)`;

/** Those records with their cost now and at the stretches. */
const TARGET = `${STRETCH},
target AS MATERIALIZED (
  SELECT r.occurred_at, r.request_id, ${ALL_DIMENSIONS.map((d) => dimensionOfRecord(d, 'r')).join(', ')}, r.total_tokens,
    r.cost AS old_cost,
    ${COST_OF_RECORD} AS new_cost
  FROM usage_records r JOIN stretch s ON ${STRETCH_OF_RECORD}
  WHERE ${RECORDS_OF_RANGE}
)`;

/** The finest rollup: the hours of months without raw records are re-priced from its rows. */
const FINEST = smallestRollup('hour', ALL_DIMENSIONS);
const FINEST_DIMENSIONS = FINEST.dimensions;

/** A priced metric's value for a whole hour re-priced at its stretch (\`g\`); an unpriced stretch has no rates. */
const HOUR_REPRICED: Record<string, string> = {
  cost: `CASE WHEN g.input IS NULL THEN 0 ELSE ${costOf('g', 'g')} END`,
  unpriced_requests: 'CASE WHEN g.input IS NULL THEN g.requests ELSE 0 END',
  unpriced_tokens: 'CASE WHEN g.input IS NULL THEN g.total_tokens ELSE 0 END',
};

/**
 * Whether every call of an hour's row (\`g\`) is known to fall on one side of its stretch's
 * long-context threshold: there is none, the row's input sum is not above it (so no call's
 * is), or the row is one call. Only then is the hour's cost its sums' cost.
 */
const TIER_KNOWN = (g: string): string =>
  `(${g}.long_above IS NULL OR ${g}.input_tokens <= ${g}.long_above OR ${g}.requests = 1)`;

/** Whether a re-priced hour's sums change. */
const HOUR_CHANGES = PRICED_METRICS.map((m) => `new_${m.name} <> ${m.name}`).join(' OR ');

/**
 * The hours of the range in months whose raw records are gone ($7), from the finest rollup:
 * each row with the one price stretch that holds the whole hour, if one does. Such a row is
 * re-priced from its token sums when the range holds the whole hour and none of its records
 * carries a cost the client provided: a record's cost is linear in its token counts (each
 * part is at most its whole, so nothing is clamped), so the sum of its records' costs is
 * the cost of its sums, exactly.
 */
const GONE_HOURS = `
gone_hours AS MATERIALIZED (
  SELECT h.bucket_start, ${FINEST_DIMENSIONS.map((d) => `h.${d}`).join(', ')}, h.requests, h.input_tokens,
    h.cached_input_tokens, h.cache_write_tokens, h.cache_write_1h_tokens, h.output_tokens, h.reasoning_tokens, h.total_tokens,
    h.cost, h.unpriced_requests, h.unpriced_tokens, h.provided_requests,
    h.bucket_start >= $3::timestamptz AND h.bucket_start + interval '1 hour' <= $4::timestamptz AS whole,
    s.provider IS NOT NULL AS one_stretch, ${STRETCH_RATES.map((c) => `s.${c}`).join(', ')}
  -- only those months' hours are read (none when every month of the range has its records)
  FROM unnest($7::timestamptz[]) AS m(month_start)
  JOIN ${FINEST.table} h ON h.workspace_id = $1
    AND h.bucket_start >= greatest(m.month_start, date_trunc('hour', $3::timestamptz, 'UTC'))
    AND h.bucket_start < least(m.month_start + interval '1 month', $4::timestamptz)
  LEFT JOIN stretch s ON s.provider = h.provider AND s.model = h.model
    AND s.lo <= h.bucket_start AND h.bucket_start + interval '1 hour' <= s.hi
    AND (s.part_start IS NULL OR (${secondOfDaySql('h.bucket_start')} >= s.part_start
      AND ${secondOfDaySql('h.bucket_start')} + 3600 <= s.part_end))
  WHERE ($5::text IS NULL OR h.provider = $5) AND ($6::text IS NULL OR h.model = $6)
    AND EXISTS (SELECT 1 FROM stretch x WHERE x.provider = h.provider AND x.model = h.model)
),
repriced_hours AS MATERIALIZED (
  SELECT g.*, ${PRICED_METRICS.map((m) => `${HOUR_REPRICED[m.name]} AS new_${m.name}`).join(', ')}
  FROM gone_hours g WHERE g.whole AND g.one_stretch AND g.provided_requests = 0 AND ${TIER_KNOWN('g')}
)`;

/** Why an hour of a month without raw records is left as it was; NULL when it is re-priced or has nothing to. */
const SKIP_REASON = `CASE
  WHEN provided_requests = requests THEN NULL
  WHEN NOT whole THEN 'partial'
  WHEN NOT one_stretch THEN 'price_change'
  WHEN provided_requests > 0 THEN 'provided'
  WHEN NOT ${TIER_KNOWN('gone_hours')} THEN 'long_context'
END`;

export const SKIP_REASONS: Record<string, string> = {
  partial:
    'the range holds only part of this hour, and its raw records are gone (RAW_RETENTION_DAYS): which of them fall in the range is unknown',
  price_change:
    'a price version starts within this hour (or a daily price window opens or closes in it), and its raw records are gone (RAW_RETENTION_DAYS): which price each had is unknown',
  provided:
    'some records of this hour carry a cost the client provided (or were recorded before that was counted), and its raw records are gone: the others cannot be told apart',
  long_context:
    'the price has long-context rates, this hour’s calls together have more input than its threshold, and their raw records are gone: which of them were long is unknown',
};

/**
 * Per model, every record of the range re-priced from its raw record, and every whole hour
 * of a month without raw records re-priced from its token sums.
 */
const SUMMARY = `
SELECT provider, model, sum(records)::bigint AS records, coalesce(sum(tokens), 0)::bigint AS tokens,
  coalesce(sum(cost_before), 0)::text AS cost_before, coalesce(sum(cost_after), 0)::text AS cost_after,
  sum(repriced)::bigint AS repriced, sum(newly_priced)::bigint AS newly_priced,
  sum(newly_unpriced)::bigint AS newly_unpriced, sum(unpriced_before)::bigint AS unpriced_before,
  sum(unpriced_after)::bigint AS unpriced_after
FROM (
  SELECT provider, model, 1 AS records, total_tokens AS tokens, old_cost AS cost_before, new_cost AS cost_after,
    (new_cost IS DISTINCT FROM old_cost)::int AS repriced,
    (old_cost IS NULL AND new_cost IS NOT NULL)::int AS newly_priced,
    (old_cost IS NOT NULL AND new_cost IS NULL)::int AS newly_unpriced,
    (old_cost IS NULL)::int AS unpriced_before, (new_cost IS NULL)::int AS unpriced_after
  FROM target
  UNION ALL
  SELECT provider, model, requests, total_tokens, cost, new_cost,
    CASE WHEN ${HOUR_CHANGES} THEN requests ELSE 0 END,
    CASE WHEN input IS NOT NULL THEN unpriced_requests ELSE 0 END,
    CASE WHEN input IS NULL THEN requests - unpriced_requests ELSE 0 END,
    unpriced_requests, new_unpriced_requests
  FROM repriced_hours
) priced
GROUP BY provider, model ORDER BY provider, model`;

/**
 * What each rollup's rows change by, by hour, slot and every dimension: the changed records'
 * sums, and the re-priced hours' changes (months without raw records have no slots).
 */
const FINE_CHANGE = `fine AS (
  SELECT ${GRAINS.hour.ofRecord} AS bucket_start, ${GRAINS.slot.ofRecord} AS slot_start, ${ALL_DIMENSIONS.join(', ')},
    ${CHANGE}
  FROM changed GROUP BY 1, 2, ${ALL_DIMENSIONS.map((_, i) => i + 3).join(', ')}
  UNION ALL
  SELECT bucket_start, NULL::timestamptz, ${ALL_DIMENSIONS.join(', ')},
    ${PRICED_METRICS.map((m) => `new_${m.name} - ${m.name} AS ${m.name}`).join(', ')}
  FROM repriced_hours WHERE ${HOUR_CHANGES}
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
-- the users' quota counts of the periods (months in the workspace's zone) the changed records
-- are in: their change, added to quota_usage once this commits (settleQuotaDeltas)
quota_deltas AS (
  INSERT INTO repricing_quota_deltas (workspace_id, run_id, user_id, period_start, cost)
  SELECT $1, $8::uuid, c.user_id,
    ${quotaPeriodStartSql('c.occurred_at', workspaceZoneSql('$1'))},
    sum(coalesce(c.new_cost, 0) - coalesce(c.old_cost, 0))
  FROM changed c GROUP BY 3, 4
  RETURNING 1
),
${GONE_HOURS},
${FINE_CHANGE},
${ROLLUPS.map(rollupChange).join(',\n')}
${SUMMARY}`;

const DRY_RUN = `WITH ${TARGET}, ${GONE_HOURS} ${SUMMARY}`;

/** The hours of months without raw records left as they were, each with why. */
const SKIPPED = `WITH ${STRETCH}, ${GONE_HOURS}
SELECT bucket_start, reason FROM (SELECT bucket_start, ${SKIP_REASON} AS reason FROM gone_hours) g
WHERE reason IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2`;

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

/** A stretch as STRETCH_COLUMNS name its fields, for json_to_recordset. */
export function stretchRecord(s: PricedStretch): Record<string, string | number | null> {
  return {
    provider: s.provider,
    model: s.model,
    lo: s.from?.toISOString() ?? '-infinity',
    hi: s.to?.toISOString() ?? 'infinity',
    part_start: s.partOfDay?.startSecond ?? null,
    part_end: s.partOfDay?.endSecond ?? null,
    ...stretchRates(s.rates, ''),
    long_above: s.longContext?.above ?? null,
    ...stretchRates(s.longContext?.rates ?? null, 'long_'),
  };
}

/** A stretch's rates as STRETCH's columns name them (`tier`: their prefix), exact decimal text or null. */
function stretchRates(rates: EffectiveRates | null, tier: string): Record<string, string | null> {
  return Object.fromEntries(
    Object.entries(RATE_COLUMN).map(([rate, column]) => [
      `${tier}${column}`,
      rates?.[rate as RateName].toString() ?? null,
    ]),
  );
}

/**
 * Adds what applied re-pricings changed in the users' quota counts to quota_usage, in one
 * statement that takes the deltas it adds: at most once, whoever settles concurrently, and
 * locks the counts in the order ingest does. A count that rises sends `quota.threshold_crossed`
 * by ingest's rule (thresholdsReachedSql), in the same statement: every threshold the user's
 * counts are then at or past and that was not alerted in the period, so one event per user,
 * period and threshold whether ingest or a re-pricing reaches it first. A fall never does (not
 * even past a threshold not yet alerted, which their next usage alerts); tokens do not change.
 * `quota_alerts` lets each through once, also when instances settle at the same time.
 */
const SETTLE = `
WITH taken AS (DELETE FROM repricing_quota_deltas RETURNING workspace_id, user_id, period_start, cost),
summed AS (SELECT workspace_id, user_id, period_start, sum(cost) AS cost FROM taken GROUP BY 1, 2, 3),
-- the counts locked in (user, period) order, as ingest adds to them: the two never wait on each other in a cycle
locked AS MATERIALIZED (
  SELECT q.workspace_id, q.user_id, q.period_start FROM quota_usage q JOIN summed s USING (workspace_id, user_id, period_start)
  ORDER BY q.workspace_id, q.user_id, q.period_start FOR UPDATE OF q
),
settled AS (
  UPDATE quota_usage q SET cost = q.cost + s.cost FROM summed s JOIN locked l USING (workspace_id, user_id, period_start)
  WHERE q.workspace_id = s.workspace_id AND q.user_id = s.user_id AND q.period_start = s.period_start
  RETURNING q.workspace_id, q.user_id, q.period_start, q.tokens, q.cost, s.cost AS added
),
quota_crossed AS (${thresholdsReachedSql('(SELECT * FROM settled WHERE added > 0)', 'c.workspace_id', workspaceZoneSql('c.workspace_id'))}
),
${quotaAlertCtes('quota_crossed', '$1::boolean')}
SELECT count(*)::int AS events FROM quota_events`;

/**
 * Run after each re-pricing commits, and at start (a crash between the two leaves deltas
 * behind); the alerts carry cost when `showsCost` (the deployment mode's).
 */
export async function settleQuotaDeltas(db: Pick<DataSource, 'query'>, showsCost: boolean): Promise<void> {
  await db.query(SETTLE, [showsCost]);
}

const HOUR_MS = 3_600_000;

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
    apply: { createdBy: string; showsCost: boolean } | null,
  ): Promise<RepricingOutcome> {
    const params = [
      range.workspaceId,
      JSON.stringify(stretches.map(stretchRecord)),
      range.from.toISOString(),
      range.to.toISOString(),
      range.provider ?? null,
      range.model ?? null,
    ];
    if (apply === null) {
      const query: Query = (sql, p) => this.db.query(sql, p);
      const withMonths = [...params, await this.monthsWithoutRecords(query, range)];
      const [rows, skippedHours] = await Promise.all([
        query(DRY_RUN, withMonths) as Promise<SummaryRow[]>,
        this.skippedHours(query, withMonths),
      ]);
      return { id: null, models: rows.map(toModel), skippedHours };
    }
    return this.applied(range, params, apply);
  }

  /**
   * Under the fold's lock, taken before the snapshot (as erasure does): the pending usage is
   * folded first, inside the transaction, so every record of the snapshot is in the rollups
   * and none of it is pending; a batch that commits meanwhile is outside the snapshot,
   * untouched, priced at ingest. Ingest never waits: it only inserts, and the rows updated
   * here are old ones. Readers see all of it or none.
   */
  private async applied(
    range: RepricingRange,
    params: unknown[],
    { createdBy, showsCost }: { createdBy: string; showsCost: boolean },
  ): Promise<RepricingOutcome> {
    const outcome = await withRollupLock(this.db, async (runner) => {
      await foldAllPendingIn(runner);
      await runner.query(`SET LOCAL work_mem = '64MB'`);
      const query: Query = (sql, p) => runner.query(sql, p);
      const id = randomUUID();
      const withMonths = [...params, await this.monthsWithoutRecords(query, range)];
      const models = ((await query(APPLY, [...withMonths, id])) as SummaryRow[]).map(toModel);
      const skippedHours = await this.skippedHours(query, withMonths);
      const totals = repricingTotals(models, Decimal.parse('0'));
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
      return { id, models, skippedHours };
    });
    await settleQuotaDeltas(this.db, showsCost);
    return outcome;
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

  /** The months of the range whose raw records are gone, as an array parameter. */
  private async monthsWithoutRecords(query: Query, range: RepricingRange): Promise<string[]> {
    const months = (await query(MONTHS_WITHOUT_RECORDS, this.rangeParams(range))) as Array<{ month_start: Date }>;
    return months.map((m) => m.month_start.toISOString());
  }

  /** The hours left as they were, consecutive hours of one reason as one stretch. */
  private async skippedHours(query: Query, params: unknown[]): Promise<SkippedHours[]> {
    if ((params[6] as string[]).length === 0) return [];
    const rows = (await query(SKIPPED, params)) as Array<{ bucket_start: Date; reason: string }>;
    const byReason = new Map<string, SkippedHours[]>();
    for (const { bucket_start: from, reason } of rows) {
      const runs = byReason.get(reason) ?? [];
      const last = runs[runs.length - 1];
      if (last && last.to.getTime() === from.getTime()) last.to = new Date(from.getTime() + HOUR_MS);
      else runs.push({ from, to: new Date(from.getTime() + HOUR_MS), reason: SKIP_REASONS[reason]! });
      byReason.set(reason, runs);
    }
    return [...byReason.values()].flat().sort((a, b) => a.from.getTime() - b.from.getTime());
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
