import type { UsageScope } from '../../application/ports/usage-queries.port';
import { alignsWithUtcHours } from '../../domain/usage-window';
import {
  byUtcMonth,
  ceilHour,
  floorHour,
  localBuckets,
  onSlotBoundaries,
  segmentsOf,
  splitSegments,
  type LabelledPiece,
  type PartialHour,
} from './facts-plan';
import {
  ADDITIVE_METRICS,
  ALL_DIMENSIONS,
  dimensionOfRecord,
  GRAINS,
  PENDING,
  METRICS,
  ROLLUPS,
  smallestRollup,
  smallestRollupIfAny,
  type Dimension,
  type MetricName,
  type RollupDefinition,
} from './rollup-registry';
import type { Level } from './usage-cover';

/** Collects positional parameters while a statement is assembled. */
export class SqlParams {
  readonly values: unknown[] = [];

  add(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
}

/** A rollup's dimension columns as facts columns: NULL where it has none. */
function dimensionsOf(rollup: { dimensions: readonly Dimension[] }): string {
  return ALL_DIMENSIONS.map((d) => (rollup.dimensions.includes(d) ? d : `NULL::text AS ${d}`)).join(', ');
}

export interface FactsNeeds {
  /** rows must carry user_id */
  user?: boolean;
  /** rows must carry provider and model */
  model?: boolean;
  /** rows must carry the provider */
  provider?: boolean;
  /** rows must carry the operation */
  operation?: boolean;
  /** rows are grouped into local buckets of the window's time zone */
  bucketed?: boolean;
  /** an extra SQL condition on user_id, provider or model (may name an outer query's columns) */
  where?: string;
  /** the columns `where` names (default: every dimension, which reads the rollups that have them all) */
  whereDimensions?: Dimension[];
  /** the metrics the query sums (default: all); reading fewer makes every row cheaper */
  metrics?: readonly MetricName[];
  /**
   * instead of local buckets: the window cut at these instants (ascending, the first at or
   * before its start), each row labelled with the cut it follows — several ranges that end
   * together, read in one pass
   */
  cuts?: readonly Date[];
  /**
   * where pending usage is read from: by default the table; else a relation of the statement
   * holding those of its rows the conditions can match (a page's users' rows, read once rather
   * than once a user)
   */
  pendingFrom?: string;
}

/** Metrics the rollups keep for re-pricing only, not reported. */
const REPRICING_ONLY = ['cache_write_1h_tokens', 'provided_requests'] as const;

export type TotalsColumn = Exclude<MetricName, (typeof REPRICING_ONLY)[number]>;

/** The sums a totals row carries (UsageTotals): every metric but those kept for re-pricing. */
export const TOTALS_COLUMNS: readonly TotalsColumn[] = ADDITIVE_METRICS.filter(
  (metric): metric is TotalsColumn => !(REPRICING_ONLY as readonly string[]).includes(metric),
);

/**
 * Sums of metric columns of the facts, each named as its column, zero when there is no row;
 * bigints stay bigint (sum would make them numeric).
 */
export function sumsOf(columns: readonly MetricName[]): string {
  return columns
    .map((column) =>
      METRICS.find((m) => m.name === column)!.type === 'numeric'
        ? `coalesce(sum(${column}), 0) AS ${column}`
        : `coalesce(sum(${column}), 0)::bigint AS ${column}`,
    )
    .join(', ');
}

/** Sums of the facts columns, named as UsageTotals rows expect them. */
export const TOTALS = sumsOf(TOTALS_COLUMNS);

/** The scope's provider, model and user filters (and `needs.where`), as ` AND …` conditions. */
export function filters(scope: UsageScope, params: SqlParams, needs: FactsNeeds = {}): string {
  const { provider, model, userId } = scope.filter;
  return [
    provider === undefined ? '' : ` AND provider = ${params.add(provider.toLowerCase())}`,
    model === undefined ? '' : ` AND model = ${params.add(model.toLowerCase())}`,
    userId === undefined ? '' : ` AND user_id = ${params.add(userId)}`,
    needs.where === undefined ? '' : ` AND ${needs.where}`,
  ].join('');
}

/** The dimensions a query's rows must carry: to group or filter by them. */
export function dimensionsNeeded(scope: UsageScope, needs: FactsNeeds): Dimension[] {
  const { filter } = scope;
  const named = needs.where === undefined ? [] : (needs.whereDimensions ?? ALL_DIMENSIONS);
  const byUser = needs.user === true || filter.userId !== undefined || named.includes('user_id');
  const byModel = needs.model === true || filter.model !== undefined || named.includes('model');
  const byProvider = byModel || needs.provider === true || filter.provider !== undefined || named.includes('provider');
  const needed: Record<Dimension, boolean> = {
    user_id: byUser,
    provider: byProvider,
    model: byModel,
    operation: needs.operation === true || named.includes('operation'),
  };
  return ALL_DIMENSIONS.filter((d) => needed[d]);
}

/**
 * Per level, the rollup with the fewest rows that still carries the needed dimensions (dekads
 * and quarters of a day: where one does).
 */
function rollupsFor(
  dimensions: Dimension[],
): Record<Exclude<Level, 'dekad' | 'quarter'>, RollupDefinition> &
  Partial<Record<'dekad' | 'quarter', RollupDefinition>> {
  return {
    hour: smallestRollup('hour', dimensions),
    quarter: smallestRollupIfAny('quarter', dimensions),
    day: smallestRollup('day', dimensions),
    dekad: smallestRollupIfAny('dekad', dimensions),
    month: smallestRollup('month', dimensions),
  };
}

/** The levels a range is covered with, coarsest first: those the needed rollups have. */
function levelsOf(rollups: ReturnType<typeof rollupsFor>): Level[] {
  const all: Level[] = ['month', 'dekad', 'day', 'quarter', 'hour'];
  return all.filter((level) => rollups[level] !== undefined);
}

/** The rollup finer than an hour, by provider alone, that half-hour zones read cut hours from. */
const SLOT_ROLLUP = ROLLUPS.find(
  (r) => r.grain === 'slot' && r.dimensions.length === 1 && r.dimensions[0] === 'provider',
);

function metricColumns(metrics: readonly MetricName[]): Pick<FactsContext, 'metrics' | 'record' | 'signed'> {
  const chosen = METRICS.filter((m) => metrics.includes(m.name));
  return {
    metrics: chosen.map((m) => m.name).join(', '),
    record: `${ALL_DIMENSIONS.map((d) => dimensionOfRecord(d)).join(', ')}, ${chosen.map((m) => `${m.ofRecord} AS ${m.name}`).join(', ')}`,
    // a numeric metric is negated, not multiplied: `sign * cost` converts the sign to numeric
    // and multiplies for every row read (~1 ms of the users page's 9k rows)
    signed: chosen
      .map((m) =>
        m.type === 'numeric'
          ? `CASE WHEN p.sign = 1 THEN r.${m.name} ELSE -r.${m.name} END AS ${m.name}`
          : `p.sign * r.${m.name} AS ${m.name}`,
      )
      .join(', '),
  };
}

/** What every part of one facts statement shares. */
interface FactsContext {
  params: SqlParams;
  /** the workspace parameter */
  ws: string;
  /** the filters, as ` AND …` */
  where: string;
  at(date: Date): string;
  list(values: unknown[], type: string): string;
  /** instants as one parameter of milliseconds since the epoch, to be read with INSTANT */
  instants(dates: Array<Date | null>): string;
  /** the relation pending usage is read from */
  pending: string;
  /** the metric columns read, comma-separated */
  metrics: string;
  /** a raw record as facts: its dimensions and those metrics */
  record: string;
  /** the metrics read, each multiplied by a piece's sign */
  signed: string;
}

/**
 * A column of milliseconds since the epoch (from `instants`) as the instant it names, exactly
 * (to_timestamp rounds to the microsecond). Many instants go as numbers rather than ISO text:
 * a 90-day chart names ~1,500, and formatting and parsing them as text cost a millisecond.
 */
const INSTANT = (column: string): string => `to_timestamp(${column} / 1000)`;

/**
 * Numbers or booleans as an array literal, written here in one piece: the driver would otherwise
 * quote and escape each element as a string of its own (~0.6 MB of garbage for a 90-day chart).
 */
const scalarsLiteral = (values: Array<number | boolean | null>): string =>
  `{${values.map((v) => (v === null ? 'NULL' : String(v))).join(',')}}`;

/** Raw records of [start, end) as facts, labelled with `bucket`. */
function rawFacts(c: FactsContext, bucket: string, start: Date, end: Date): string {
  return `SELECT ${bucket} AS bucket_start, ${c.record} FROM usage_records WHERE workspace_id = ${c.ws}
       AND occurred_at >= ${c.at(start)} AND occurred_at < ${c.at(end)}${c.where}`;
}

/** The signed pieces of one level, each read from `rollup` through its time index. */
function piecesFacts(c: FactsContext, pieces: LabelledPiece[], rollup: RollupDefinition, hourly: boolean): string {
  const time = GRAINS[rollup.grain].column;
  // hourly buckets are UTC hours in these zones: an hour row starts its own bucket
  const bucket = hourly ? 'r.at' : 'p.bucket_start';
  return `SELECT ${bucket} AS bucket_start, ${ALL_DIMENSIONS.map((d) => `r.${d}`).join(', ')},
        ${c.signed}
      FROM (SELECT sign, ${INSTANT('lo')} AS lo, ${INSTANT('hi')} AS hi, ${INSTANT('b')} AS bucket_start
            FROM unnest(${c.list(
              pieces.map((p) => p.sign),
              'int',
            )}, ${c.instants(pieces.map((p) => p.from))}, ${c.instants(pieces.map((p) => p.to))}, ${c.instants(
              pieces.map((p) => p.bucket ?? null),
            )}) AS u(sign, lo, hi, b)
            -- a fence: each instant converted once per piece, not again for every row read
            OFFSET 0) p
      CROSS JOIN LATERAL (
        SELECT ${time} AS at, ${dimensionsOf(rollup)}, ${c.metrics} FROM ${rollup.table}
        WHERE workspace_id = ${c.ws} AND ${time} >= p.lo AND ${time} < p.hi${c.where}
        -- a fence: read each piece's range through the index, never the table once for all pieces
        OFFSET 0) r`;
}

/**
 * Usage of whole hours in [start, end) that the background fold has not moved into the
 * rollups yet, but for the `cut` hours (read with the partial hours instead).
 */
function pendingFacts(c: FactsContext, bucket: string, start: Date, end: Date, cut: Date[]): string {
  const notCut =
    cut.length === 0
      ? ''
      : ` AND bucket_start <> ALL (${c.list(
          cut.map((h) => h.toISOString()),
          'timestamptz',
        )})`;
  return `SELECT ${bucket} AS bucket_start, ${PENDING.dimensions.join(', ')}, ${c.metrics} FROM ${c.pending}
       WHERE workspace_id = ${c.ws} AND bucket_start >= ${c.at(start)} AND bucket_start < ${c.at(end)}${c.where}${notCut}`;
}

/** A list of partial hours as a relation q(lo, hi, hour, bucket_start, holds_start). */
function partialList(c: FactsContext, partials: PartialHour[], hourly: boolean): string {
  return `(SELECT ${INSTANT('lo')} AS lo, ${INSTANT('hi')} AS hi, ${INSTANT('h')} AS hour, ${INSTANT('b')} AS bucket_start,
        holds_start
      FROM unnest(${c.instants(partials.map((p) => p.from))}, ${c.instants(partials.map((p) => p.to))}, ${c.instants(
        partials.map((p) => p.hour),
      )}, ${c.instants(partials.map((p) => p.bucket ?? (hourly ? p.hour : null)))}, ${c.list(
        partials.map((p) => p.hour.getTime() === p.from.getTime()),
        'boolean',
      )}) AS u(lo, hi, h, b, holds_start)
      -- a fence, as for the pieces: each instant converted once per partial hour
      OFFSET 0) q`;
}

const HOUR_END = "q.hour + interval '1 hour'";

/**
 * Partial hours on 15-minute boundaries, by provider alone, from the 15-minute slots, which
 * cover the raw retention window; an hour past it has no slots and is taken whole, from its
 * hourly rollup row, by the part that holds its start.
 */
function slotPartialsFacts(
  c: FactsContext,
  partials: PartialHour[],
  slots: RollupDefinition,
  hour: RollupDefinition,
  hourly: boolean,
): string {
  return `SELECT q.bucket_start, f.*
      FROM ${partialList(c, partials, hourly)}
      CROSS JOIN LATERAL (SELECT EXISTS (SELECT 1 FROM ${slots.table}
        WHERE workspace_id = ${c.ws} AND slot_start >= q.hour AND slot_start < ${HOUR_END}) AS kept) g
      CROSS JOIN LATERAL (
        SELECT ${dimensionsOf(slots)}, ${c.metrics} FROM ${slots.table}
        WHERE workspace_id = ${c.ws} AND slot_start >= q.lo AND slot_start < q.hi${c.where} AND g.kept
        UNION ALL
        SELECT ${dimensionsOf(hour)}, ${c.metrics} FROM ${hour.table}
        WHERE workspace_id = ${c.ws} AND bucket_start = q.hour${c.where} AND q.holds_start AND NOT g.kept
        UNION ALL
        SELECT ${PENDING.dimensions.join(', ')}, ${c.metrics} FROM ${c.pending}
        WHERE workspace_id = ${c.ws} AND bucket_start = q.hour AND slot_start >= q.lo AND slot_start < q.hi${c.where}
        OFFSET 0) f`;
}

/**
 * Partial hours of one UTC month from its raw records, or, when the rest of the hour holds no
 * raw usage, from the hour's rollup and pending rows. The rest of an hour whose raw records
 * retention dropped holds none either: such an hour is taken whole by the part that holds
 * its start, and by no other part. Every read of the raw records carries the month's bounds
 * as constants, so it touches that month's partition only, however many there are.
 */
function rawPartialsFacts(
  c: FactsContext,
  group: { month: Date; next: Date; partials: PartialHour[] },
  hour: RollupDefinition,
  hourly: boolean,
): string {
  const inMonth = `occurred_at >= ${c.at(group.month)} AND occurred_at < ${c.at(group.next)}`;
  const rawIn = (lo: string, hi: string): string =>
    `SELECT 1 FROM usage_records WHERE workspace_id = ${c.ws} AND ${inMonth} AND occurred_at >= ${lo} AND occurred_at < ${hi}`;
  const anyHourRow = smallestRollup('hour', []);
  return `SELECT q.bucket_start, f.*
      FROM ${partialList(c, group.partials, hourly)}
      CROSS JOIN LATERAL (SELECT
        NOT EXISTS (${rawIn('q.hour', 'q.lo')}) AND NOT EXISTS (${rawIn('q.hi', HOUR_END)})
        AND (q.holds_start OR EXISTS (${rawIn('q.hour', HOUR_END)})
             OR NOT EXISTS (SELECT 1 FROM ${anyHourRow.table} WHERE workspace_id = ${c.ws} AND bucket_start = q.hour))
        AS rest_empty) g
      CROSS JOIN LATERAL (
        SELECT ${c.record} FROM usage_records
        WHERE workspace_id = ${c.ws} AND ${inMonth} AND occurred_at >= q.lo AND occurred_at < q.hi${c.where}
          AND NOT g.rest_empty
        UNION ALL
        SELECT ${dimensionsOf(hour)}, ${c.metrics} FROM ${hour.table}
        WHERE workspace_id = ${c.ws} AND bucket_start = q.hour${c.where} AND g.rest_empty
        UNION ALL
        SELECT ${PENDING.dimensions.join(', ')}, ${c.metrics} FROM ${c.pending}
        WHERE workspace_id = ${c.ws} AND bucket_start >= q.hour AND bucket_start < ${HOUR_END}${c.where} AND g.rest_empty
        OFFSET 0) f`;
}

/**
 * The usage of a scope as one row source (bucket_start, user_id, provider, model, operation
 * and the metrics), exact for any [from, to). Whole UTC hours are read from the rollups as signed
 * pieces (see usage-cover.ts): per level, the rollup with the fewest dimensions that still
 * carries the needed ones (rollup-registry.ts); plus the usage still pending for the
 * rollups, which is by hour and has every dimension. Partial hours come from the raw
 * records — or, when the rest of that hour holds no usage (a range ending now, typically;
 * decided inside the statement, on its snapshot), from the hour's rollup row.
 *
 * Bucketed, the window is cut at the local bucket boundaries and each part labelled with
 * its bucket: a Berlin day is its UTC day minus the last hour plus the hour before. In
 * zones whose offset is not a whole number of hours (India, Nepal, parts of Australia) a
 * boundary cuts a UTC hour in two, whose halves are partial hours like a range's ends.
 * Once retention dropped such an hour's raw records, the whole hour counts in the part
 * that holds its start. Hourly buckets in those zones are read from the raw records.
 * Unbucketed, bucket_start is NULL. `now` (the clock's) only steers which pieces are read.
 */
export function factsSource(scope: UsageScope, params: SqlParams, needs: FactsNeeds, now: Date): string {
  const { window } = scope;
  const c: FactsContext = {
    params,
    ws: params.add(scope.workspaceId),
    where: filters(scope, params, needs),
    at: (date) => `${params.add(date.toISOString())}::timestamptz`,
    list: (values, type) =>
      `${params.add(values.every((v) => typeof v === 'number' || typeof v === 'boolean') ? scalarsLiteral(values as Array<number | boolean>) : values)}::${type}[]`,
    instants: (dates) => `${params.add(scalarsLiteral(dates.map((d) => d?.getTime() ?? null)))}::float8[]`,
    pending: needs.pendingFrom ?? PENDING.table,
    ...metricColumns(needs.metrics ?? ADDITIVE_METRICS),
  };
  const cuts = needs.cuts;
  const bucketed = needs.bucketed === true && !cuts;
  const hourly = bucketed && window.granularity === 'hour';
  if (window.from >= window.to || (hourly && !alignsWithUtcHours(window))) {
    const bucket = cuts
      ? cutOf(c, cuts, 'occurred_at')
      : bucketed
        ? `date_trunc(${params.add(window.granularity)}, occurred_at, ${params.add(window.timeZone)})`
        : 'NULL::timestamptz';
    return rawFacts(c, bucket, window.from, window.to);
  }

  const dimensions = dimensionsNeeded(scope, needs);
  const rollups = rollupsFor(dimensions);
  const levels: Level[] = hourly ? ['hour'] : levelsOf(rollups);
  const segments = segmentsOf(window, cuts ? [...cuts] : bucketed && !hourly ? localBuckets(window) : null);
  const { pieces, partials } = splitSegments(segments, levels, now);

  const parts: string[] = [];
  for (const level of levels) {
    const mine = pieces.filter((p) => p.level === level);
    if (mine.length > 0) parts.push(piecesFacts(c, mine, rollups[level]!, hourly));
  }

  const firstWhole = ceilHour(window.from);
  const lastWhole = floorHour(window.to);
  if (firstWhole < lastWhole) {
    const bucket = cuts
      ? cutOf(c, cuts, 'bucket_start')
      : !bucketed
        ? 'NULL::timestamptz'
        : hourly
          ? 'bucket_start'
          : `date_trunc(${params.add(window.granularity)}, bucket_start, ${params.add(window.timeZone)})`;
    const cut = [...new Map(partials.map((p) => [p.hour.getTime(), p.hour])).values()];
    parts.push(pendingFacts(c, bucket, firstWhole, lastWhole, cut));
  }

  // every partial hour is one row of a list read by one lateral join, so that a chart with a
  // partial hour at every bucket boundary stays one small plan
  const slotRollup = dimensions.every((d) => d === 'provider') ? SLOT_ROLLUP : undefined;
  const inSlots = slotRollup ? partials.filter(onSlotBoundaries) : [];
  if (slotRollup && inSlots.length > 0) parts.push(slotPartialsFacts(c, inSlots, slotRollup, rollups.hour, hourly));
  const inRaw = partials.filter((p) => !inSlots.includes(p));
  for (const group of byUtcMonth(inRaw)) parts.push(rawPartialsFacts(c, group, rollups.hour, hourly));
  return parts.join('\nUNION ALL\n');
}

/** The last of `cuts` at or before an instant (the first when none is). */
function cutOf(c: FactsContext, cuts: readonly Date[], instant: string): string {
  const later = cuts.slice(1).reverse();
  if (later.length === 0) return c.at(cuts[0]!);
  return `CASE ${later.map((cut) => `WHEN ${instant} >= ${c.at(cut)} THEN ${c.at(cut)}`).join(' ')} ELSE ${c.at(cuts[0]!)} END`;
}

/** Start instants of every bucket of the window, in its time zone. */
export function bucketSeries(scope: UsageScope, params: SqlParams): string {
  const { window } = scope;
  const tz = params.add(window.timeZone);
  const from = params.add(window.from.toISOString());
  const last = `(${params.add(window.to.toISOString())}::timestamptz - interval '1 microsecond')`;
  if (window.granularity === 'hour') {
    // Local hours are not always UTC hours apart: after a 30-minute DST change (Australia/
    // Lord_Howe) they start at :30 UTC. Sampling the range every 15 minutes (every offset is a
    // multiple of 15 minutes, every local hour at least 30 minutes long) plus its last instant
    // finds exactly the local hours that the records fall in.
    return `SELECT DISTINCT date_trunc('hour', s, ${tz}) AS bucket_start
      FROM (SELECT generate_series(${from}::timestamptz, ${last}, interval '15 minutes') AS s
            UNION ALL SELECT ${last}) samples`;
  }
  const unit = params.add(window.granularity);
  // stepping in local wall-clock time makes a DST day 23 or 25 hours long, as it is
  return `SELECT local_start AT TIME ZONE ${tz} AS bucket_start
    FROM generate_series(date_trunc(${unit}, ${from}::timestamptz, ${tz}) AT TIME ZONE ${tz},
                         ${last} AT TIME ZONE ${tz}, ('1 ' || ${unit})::interval) AS local_start`;
}
