import type { UsageScope } from '../../application/ports/usage-queries.port';
import { alignsWithUtcHours, localPeriodStart, type UsageWindow } from '../../domain/usage-window';
import { ADDITIVE_METRICS } from './rollup-metrics';
import { coverRange, type Level, type Piece } from './usage-cover';

/** Collects positional parameters while a statement is assembled. */
export class SqlParams {
  readonly values: unknown[] = [];

  add(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
}

/** Columns every facts source yields, one row per rollup row or raw record. */
const METRICS = ADDITIVE_METRICS.join(', ');

const RAW_AS_FACTS = `
  user_id, provider, model, 1 AS requests, CASE WHEN success THEN 0 ELSE 1 END AS errors,
  input_tokens, output_tokens, cached_input_tokens, cache_write_tokens, reasoning_tokens, total_tokens,
  coalesce(duration_ms, 0) AS duration_ms_sum, CASE WHEN duration_ms IS NULL THEN 0 ELSE 1 END AS duration_count,
  coalesce(cost, 0) AS cost, CASE WHEN cost IS NULL THEN 1 ELSE 0 END AS unpriced_requests`;

interface Source {
  table: string;
  time: string;
  /** the dimension columns, NULL where the rollup has none */
  dimensions: string;
}

function source(table: string, time: string, dimensions: Array<'user_id' | 'provider' | 'model'>): Source {
  const column = (name: 'user_id' | 'provider' | 'model'): string =>
    dimensions.includes(name) ? name : `NULL::text AS ${name}`;
  return { table, time, dimensions: `${column('user_id')}, ${column('provider')}, ${column('model')}` };
}

interface Family {
  hour: Source;
  day: Source;
  month: Source;
}

/**
 * The rollups in families, one per set of dimensions a query needs, each by UTC hour, day
 * and month.
 */
const FAMILIES = {
  userModels: {
    hour: source('usage_hourly', 'bucket_start', ['user_id', 'provider', 'model']),
    day: source('usage_daily_user_models', 'day_start', ['user_id', 'provider', 'model']),
    month: source('usage_monthly_user_models', 'month_start', ['user_id', 'provider', 'model']),
  },
  users: {
    // a user has a row or two per hour in usage_hourly: no per-user hourly rollup of its own
    hour: source('usage_hourly', 'bucket_start', ['user_id']),
    day: source('usage_daily_users', 'day_start', ['user_id']),
    month: source('usage_monthly_users', 'month_start', ['user_id']),
  },
  models: {
    hour: source('usage_hourly_models', 'bucket_start', ['provider', 'model']),
    day: source('usage_daily_models', 'day_start', ['provider', 'model']),
    month: source('usage_monthly_models', 'month_start', ['provider', 'model']),
  },
  providers: {
    hour: source('usage_hourly_providers', 'bucket_start', ['provider']),
    day: source('usage_daily_providers', 'day_start', ['provider']),
    month: source('usage_monthly_providers', 'month_start', ['provider']),
  },
} satisfies Record<string, Family>;

export interface FactsNeeds {
  /** rows must carry user_id */
  user?: boolean;
  /** rows must carry provider and model */
  model?: boolean;
  /** rows must carry the provider */
  provider?: boolean;
  /** rows are grouped into local buckets of the window's time zone */
  bucketed?: boolean;
  /** an extra SQL condition on user_id, provider or model */
  where?: string;
}

/** Sums of the facts columns, named as UsageTotals rows expect them. */
export const TOTALS = `
  coalesce(sum(requests), 0)::bigint AS requests, coalesce(sum(errors), 0)::bigint AS errors,
  coalesce(sum(input_tokens), 0)::bigint AS input_tokens, coalesce(sum(output_tokens), 0)::bigint AS output_tokens,
  coalesce(sum(cached_input_tokens), 0)::bigint AS cached_input_tokens,
  coalesce(sum(cache_write_tokens), 0)::bigint AS cache_write_tokens,
  coalesce(sum(reasoning_tokens), 0)::bigint AS reasoning_tokens, coalesce(sum(total_tokens), 0)::bigint AS total_tokens,
  coalesce(sum(duration_ms_sum), 0)::bigint AS duration_ms_sum, coalesce(sum(duration_count), 0)::bigint AS duration_count,
  coalesce(sum(cost), 0) AS cost, coalesce(sum(unpriced_requests), 0)::bigint AS unpriced_requests`;

function filters(scope: UsageScope, params: SqlParams, needs: FactsNeeds): string {
  const { provider, model, userId } = scope.filter;
  return [
    provider === undefined ? '' : ` AND provider = ${params.add(provider.toLowerCase())}`,
    model === undefined ? '' : ` AND model = ${params.add(model.toLowerCase())}`,
    userId === undefined ? '' : ` AND user_id = ${params.add(userId)}`,
    needs.where === undefined ? '' : ` AND ${needs.where}`,
  ].join('');
}

const HOUR_MS = 3_600_000;
const SLOT_MS = 15 * 60_000;
const floorHour = (date: Date): Date => new Date(Math.floor(date.getTime() / HOUR_MS) * HOUR_MS);
const ceilHour = (date: Date): Date => new Date(Math.ceil(date.getTime() / HOUR_MS) * HOUR_MS);

function familyFor(scope: UsageScope, needs: FactsNeeds): Family {
  // the user dimension is needed to group or filter by user, the model one likewise
  const { filter } = scope;
  const byUser = needs.user === true || filter.userId !== undefined;
  const byModel = needs.model === true || filter.model !== undefined;
  const byProvider = byModel || needs.provider === true || filter.provider !== undefined;
  if ((byUser && byProvider) || needs.where !== undefined) return FAMILIES.userModels;
  if (byUser) return FAMILIES.users;
  return byModel ? FAMILIES.models : FAMILIES.providers;
}

/** Start instants of the local buckets that meet the window, and the end of the last one. */
function localBuckets(window: UsageWindow): Date[] {
  const unit = window.granularity as 'day' | 'week' | 'month';
  // a point surely inside the next period: periods are at least 23 hours (day), 7 days less an
  // hour (week) or 28 days (month) long, and at most 25 hours, 7 days and an hour, or 31 days
  const step = { day: 36 * HOUR_MS, week: 7.5 * 24 * HOUR_MS, month: 31.5 * 24 * HOUR_MS }[unit];
  const starts = [localPeriodStart(unit, window.from, window.timeZone)];
  while (starts[starts.length - 1]! < window.to) {
    starts.push(localPeriodStart(unit, new Date(starts[starts.length - 1]!.getTime() + step), window.timeZone));
  }
  return starts;
}

/** A part of the window inside one bucket (null when unbucketed or bucketed by the hour). */
interface Segment {
  from: Date;
  to: Date;
  bucket: Date | null;
}

/**
 * The usage of a scope as one row source (bucket_start, user_id, provider, model and the
 * metrics), exact for any [from, to). Whole UTC hours are read from the rollups as signed
 * pieces (see usage-cover.ts): the family of rollups with the fewest dimensions that still
 * carries the needed ones, by month, day and hour; plus the usage still pending for the
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
 * Unbucketed, bucket_start is NULL.
 */
export function factsSource(scope: UsageScope, params: SqlParams, needs: FactsNeeds = {}): string {
  const { window, workspaceId } = scope;
  const ws = params.add(workspaceId);
  const at = (date: Date): string => `${params.add(date.toISOString())}::timestamptz`;
  const where = filters(scope, params, needs);
  const raw = (bucket: string, start: Date, end: Date, guard = 'true'): string =>
    `SELECT ${bucket} AS bucket_start, ${RAW_AS_FACTS} FROM usage_records WHERE workspace_id = ${ws}
       AND occurred_at >= ${at(start)} AND occurred_at < ${at(end)}${where} AND ${guard}`;

  const bucketed = needs.bucketed === true;
  const hourly = bucketed && window.granularity === 'hour';
  if (window.from >= window.to || (hourly && !alignsWithUtcHours(window))) {
    const bucket = bucketed
      ? `date_trunc(${params.add(window.granularity)}, occurred_at, ${params.add(window.timeZone)})`
      : 'NULL::timestamptz';
    return raw(bucket, window.from, window.to);
  }

  const family = familyFor(scope, needs);
  const levels: Level[] = hourly ? ['hour'] : ['month', 'day', 'hour'];
  const buckets = bucketed && !hourly ? localBuckets(window) : null;
  const segments: Segment[] = [];
  if (buckets) {
    const cuts = [window.from, ...buckets.filter((b) => b > window.from && b < window.to), window.to];
    for (let i = 0; i + 1 < cuts.length; i += 1) {
      const from = cuts[i]!;
      segments.push({ from, to: cuts[i + 1]!, bucket: buckets.filter((b) => b <= from).pop()! });
    }
  } else {
    segments.push({ from: window.from, to: window.to, bucket: null });
  }

  // signed pieces of whole hours and the partial hours, each labelled with its bucket
  const now = new Date();
  const pieces: Array<Piece & { bucket: Date | null }> = [];
  const partials: Array<{ from: Date; to: Date; segment: Segment }> = [];
  for (const segment of segments) {
    const wholeFrom = ceilHour(segment.from);
    const wholeTo = floorHour(segment.to);
    if (wholeFrom > wholeTo) {
      partials.push({ from: segment.from, to: segment.to, segment });
      continue;
    }
    if (wholeFrom < wholeTo) {
      for (const piece of coverRange(wholeFrom, wholeTo, levels, now))
        pieces.push({ ...piece, bucket: segment.bucket });
    }
    if (segment.from < wholeFrom) partials.push({ from: segment.from, to: wholeFrom, segment });
    if (wholeTo < segment.to) partials.push({ from: wholeTo, to: segment.to, segment });
  }

  const parts: string[] = [];
  const list = (values: unknown[], type: string): string => `${params.add(values)}::${type}[]`;
  for (const level of ['month', 'day', 'hour'] as const) {
    const mine = pieces.filter((p) => p.level === level);
    const from = family[level];
    if (mine.length === 0) continue;
    // hourly buckets are UTC hours in these zones: an hour row starts its own bucket
    const bucket = hourly ? 'r.at' : 'p.bucket_start';
    parts.push(`SELECT ${bucket} AS bucket_start, r.user_id, r.provider, r.model,
        ${ADDITIVE_METRICS.map((c) => `p.sign * r.${c} AS ${c}`).join(', ')}
      FROM unnest(${list(
        mine.map((p) => p.sign),
        'int',
      )}, ${list(
        mine.map((p) => p.from.toISOString()),
        'timestamptz',
      )}, ${list(
        mine.map((p) => p.to.toISOString()),
        'timestamptz',
      )}, ${list(
        mine.map((p) => p.bucket?.toISOString() ?? null),
        'timestamptz',
      )}) AS p(sign, lo, hi, bucket_start)
      CROSS JOIN LATERAL (
        SELECT ${from.time} AS at, ${from.dimensions}, ${METRICS} FROM ${from.table}
        WHERE workspace_id = ${ws} AND ${from.time} >= p.lo AND ${from.time} < p.hi${where}
        -- a fence: read each piece's range through the index, never the table once for all pieces
        OFFSET 0) r`);
  }

  // usage of whole hours that the background fold has not moved into the rollups yet; an
  // hour a bucket boundary cuts is read with the partial hours instead
  const pending = (bucket: string, start: Date, end: Date, guard: string): string =>
    `SELECT ${bucket} AS bucket_start, user_id, provider, model, ${METRICS} FROM usage_pending
       WHERE workspace_id = ${ws} AND bucket_start >= ${at(start)} AND bucket_start < ${at(end)}${where} AND ${guard}`;
  const firstWhole = ceilHour(window.from);
  const lastWhole = floorHour(window.to);
  if (firstWhole < lastWhole) {
    const pendingBucket = !bucketed
      ? 'NULL::timestamptz'
      : hourly
        ? 'bucket_start'
        : `date_trunc(${params.add(window.granularity)}, bucket_start, ${params.add(window.timeZone)})`;
    const cutHours = [...new Set(partials.map((p) => floorHour(p.from).toISOString()))];
    const notCut = cutHours.length === 0 ? 'true' : `bucket_start <> ALL (${params.add(cutHours)}::timestamptz[])`;
    parts.push(pending(pendingBucket, firstWhole, lastWhole, notCut));
  }

  // The partial hours, all in one lateral join over their list, so that a chart with a
  // partial hour at every bucket boundary stays one small plan. Each reads its raw records,
  // or, when the rest of its hour holds no raw usage, its hour's rollup and pending rows.
  // The rest of an hour whose raw records retention dropped holds none either: such an
  // hour is taken whole by the part that holds its start, and by no other part.
  const hourOf = (p: (typeof partials)[number]): Date => floorHour(p.from);
  const partialList = (chosen: typeof partials): string =>
    `unnest(${list(
      chosen.map((p) => p.from.toISOString()),
      'timestamptz',
    )}, ${list(
      chosen.map((p) => p.to.toISOString()),
      'timestamptz',
    )}, ${list(
      chosen.map((p) => hourOf(p).toISOString()),
      'timestamptz',
    )}, ${list(
      chosen.map((p) => (p.segment.bucket ?? (hourly ? hourOf(p) : null))?.toISOString() ?? null),
      'timestamptz',
    )}, ${list(
      chosen.map((p) => hourOf(p).getTime() === p.from.getTime()),
      'boolean',
    )}) AS q(lo, hi, hour, bucket_start, holds_start)`;
  const hourEnd = "q.hour + interval '1 hour'";

  // By provider alone, parts of hours on 15-minute boundaries (a local midnight in India)
  // are read from the 15-minute slots, which cover the raw retention window; an hour past
  // it has no slots and is taken whole by the part that holds its start.
  const inSlots =
    family === FAMILIES.providers
      ? partials.filter((p) => p.from.getTime() % SLOT_MS === 0 && p.to.getTime() % SLOT_MS === 0)
      : [];
  if (inSlots.length > 0) {
    parts.push(`SELECT q.bucket_start, f.*
      FROM ${partialList(inSlots)}
      CROSS JOIN LATERAL (SELECT EXISTS (SELECT 1 FROM usage_slot_providers
        WHERE workspace_id = ${ws} AND slot_start >= q.hour AND slot_start < ${hourEnd}) AS kept) g
      CROSS JOIN LATERAL (
        SELECT NULL::text AS user_id, provider, NULL::text AS model, ${METRICS} FROM usage_slot_providers
        WHERE workspace_id = ${ws} AND slot_start >= q.lo AND slot_start < q.hi${where} AND g.kept
        UNION ALL
        SELECT NULL::text, provider, NULL::text, ${METRICS} FROM usage_hourly_providers
        WHERE workspace_id = ${ws} AND bucket_start = q.hour${where} AND q.holds_start AND NOT g.kept
        UNION ALL
        SELECT user_id, provider, model, ${METRICS} FROM usage_pending
        WHERE workspace_id = ${ws} AND bucket_start = q.hour AND slot_start >= q.lo AND slot_start < q.hi${where}
        OFFSET 0) f`);
  }
  const inRaw = partials.filter((p) => !inSlots.includes(p));
  if (inRaw.length > 0) {
    const rawIn = (lo: string, hi: string): string =>
      `SELECT 1 FROM usage_records WHERE workspace_id = ${ws} AND occurred_at >= ${lo} AND occurred_at < ${hi}`;
    parts.push(`SELECT q.bucket_start, f.*
      FROM ${partialList(inRaw)}
      CROSS JOIN LATERAL (SELECT
        NOT EXISTS (${rawIn('q.hour', 'q.lo')}) AND NOT EXISTS (${rawIn('q.hi', hourEnd)})
        AND (q.holds_start OR EXISTS (${rawIn('q.hour', hourEnd)})
             OR NOT EXISTS (SELECT 1 FROM usage_hourly_providers WHERE workspace_id = ${ws} AND bucket_start = q.hour))
        AS rest_empty) g
      CROSS JOIN LATERAL (
        SELECT ${RAW_AS_FACTS} FROM usage_records
        WHERE workspace_id = ${ws} AND occurred_at >= q.lo AND occurred_at < q.hi${where} AND NOT g.rest_empty
        UNION ALL
        SELECT ${family.hour.dimensions}, ${METRICS} FROM ${family.hour.table}
        WHERE workspace_id = ${ws} AND ${family.hour.time} = q.hour${where} AND g.rest_empty
        UNION ALL
        SELECT user_id, provider, model, ${METRICS} FROM usage_pending
        WHERE workspace_id = ${ws} AND bucket_start >= q.hour AND bucket_start < ${hourEnd}${where} AND g.rest_empty
        OFFSET 0) f`);
  }
  return parts.join('\nUNION ALL\n');
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
