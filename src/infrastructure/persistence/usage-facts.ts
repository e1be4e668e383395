import type { UsageScope } from '../../application/ports/usage-queries.port';
import { alignsWithUtcHours } from '../../domain/usage-window';
import { ADDITIVE_METRICS } from './rollup-metrics';

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
  columns: string;
}

function source(table: string, time: string, dimensions: Array<'user_id' | 'provider' | 'model'>): Source {
  const column = (name: 'user_id' | 'provider' | 'model'): string =>
    dimensions.includes(name) ? name : `NULL::text AS ${name}`;
  return {
    table,
    time,
    columns: `${time} AS at, ${column('user_id')}, ${column('provider')}, ${column('model')}, ${METRICS}`,
  };
}

/**
 * The rollups in families, one per set of dimensions a query needs: hours (any whole-hour
 * range, and buckets in any whole-hour zone) and UTC days (the bulk of a long range that is
 * not bucketed). Each yields the facts columns.
 */
const FAMILIES = {
  userModels: {
    hourly: source('usage_hourly', 'bucket_start', ['user_id', 'provider', 'model']),
    daily: source('usage_daily_user_models', 'day_start', ['user_id', 'provider', 'model']),
  },
  users: {
    hourly: source('usage_hourly_users', 'bucket_start', ['user_id']),
    daily: source('usage_daily_users', 'day_start', ['user_id']),
  },
  models: {
    hourly: source('usage_hourly_models', 'bucket_start', ['provider', 'model']),
    daily: source('usage_daily_models', 'day_start', ['provider', 'model']),
  },
  providers: {
    hourly: source('usage_hourly_providers', 'bucket_start', ['provider']),
    daily: source('usage_daily_models', 'day_start', ['provider']),
  },
} as const;

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
const DAY_MS = 24 * HOUR_MS;
const floorTo = (date: Date, unit: number): Date => new Date(Math.floor(date.getTime() / unit) * unit);
const ceilTo = (date: Date, unit: number): Date => new Date(Math.ceil(date.getTime() / unit) * unit);
const later = (a: Date, b: Date): Date => (a > b ? a : b);
const earlier = (a: Date, b: Date): Date => (a < b ? a : b);

type Family = (typeof FAMILIES)[keyof typeof FAMILIES];

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

/**
 * The usage of a scope as one row source, exact for any [from, to): the partial hours at
 * either end come from the raw records, whole hours from an hourly rollup, and — for
 * queries that are not bucketed — whole UTC days from a daily rollup. The family of
 * rollups with the fewest dimensions that still carries the needed ones is used. Zones
 * whose offset is not a whole number of hours (India, Nepal, parts of Australia) put local
 * bucket boundaries inside UTC hours, so bucketed queries in them read the raw records.
 *
 * A range that ends (or starts) inside a UTC day — "the last 30 days" ends with a partial
 * today — reads that whole day's rollup rows instead when the workspace has no usage in
 * the rest of the day (nothing after now, typically): that is decided inside the statement,
 * on its snapshot, so the answer stays exact when usage arrives meanwhile. Bucketed queries
 * do the same with the partial hour at either end.
 */
export function factsSource(scope: UsageScope, params: SqlParams, needs: FactsNeeds = {}): string {
  const { window, workspaceId } = scope;
  const ws = params.add(workspaceId);
  const at = (date: Date): string => `${params.add(date.toISOString())}::timestamptz`;
  const guarded = (sql: string, guard: string | undefined): string => (guard ? `${sql} AND ${guard}` : sql);
  const select = (from: Source, start: Date, end: Date, guard?: string): string =>
    guarded(
      `SELECT ${from.columns} FROM ${from.table} WHERE workspace_id = ${ws}
       AND ${from.time} >= ${at(start)} AND ${from.time} < ${at(end)}${filters(scope, params, needs)}`,
      guard,
    );
  const aligned = alignsWithUtcHours(window);
  // bucketed raw rows count in the hour they fall in: every bucket boundary is an hour boundary
  const rawAt = needs.bucketed && aligned ? `date_trunc('hour', occurred_at, 'UTC')` : 'occurred_at';
  const raw = (start: Date, end: Date, guard?: string): string =>
    guarded(
      `SELECT ${rawAt} AS at, ${RAW_AS_FACTS} FROM usage_records WHERE workspace_id = ${ws}
       AND occurred_at >= ${at(start)} AND occurred_at < ${at(end)}${filters(scope, params, needs)}`,
      guard,
    );
  // an empty range (a stats window that starts after the range ends) still yields its columns
  if (window.from >= window.to || (needs.bucketed && !aligned)) return raw(window.from, window.to);

  const family = familyFor(scope, needs);
  const bucketed = needs.bucketed === true;
  /** exact pieces of [start, end): raw partial hours, hourly whole hours, daily whole days */
  const exact = (start: Date, end: Date, guard?: string): string[] => {
    const hourFrom = ceilTo(start, HOUR_MS);
    const hourTo = floorTo(end, HOUR_MS);
    if (hourFrom >= hourTo) return start < end ? [raw(start, end, guard)] : [];
    const parts: string[] = [];
    const dayFrom = ceilTo(hourFrom, DAY_MS);
    const dayTo = floorTo(hourTo, DAY_MS);
    if (!bucketed && dayFrom < dayTo) {
      parts.push(select(family.daily, dayFrom, dayTo, guard));
      if (hourFrom < dayFrom) parts.push(select(family.hourly, hourFrom, dayFrom, guard));
      if (dayTo < hourTo) parts.push(select(family.hourly, dayTo, hourTo, guard));
    } else {
      parts.push(select(family.hourly, hourFrom, hourTo, guard));
    }
    if (start < hourFrom) parts.push(raw(start, hourFrom, guard));
    if (hourTo < end) parts.push(raw(hourTo, end, guard));
    return parts;
  };

  // the range as a run of whole units (days, or hours when bucketed) between a head and a tail
  const unit = bucketed ? HOUR_MS : DAY_MS;
  const whole = bucketed ? family.hourly : family.daily;
  const unitFrom = floorTo(window.from, unit);
  const unitTo = ceilTo(window.to, unit);
  const headEnd = earlier(ceilTo(window.from, unit), window.to);
  const tailStart = later(floorTo(window.to, unit), headEnd);
  /** a partial unit [start, end) of [unitStart, unitEnd): its whole row when the rest is empty */
  const partial = (start: Date, end: Date, unitStart: Date, unitEnd: Date): string[] => {
    if (start.getTime() === unitStart.getTime() && end.getTime() === unitEnd.getTime()) return exact(start, end);
    const rest = [
      ...(unitStart < start ? [noUsage(unitStart, start)] : []),
      ...(end < unitEnd ? [noUsage(end, unitEnd)] : []),
    ].join(' AND ');
    return [select(whole, unitStart, unitEnd, rest), ...exact(start, end, `NOT (${rest})`)];
  };
  /** true when the workspace has no usage at all in [start, end) */
  const noUsage = (start: Date, end: Date): string => {
    const hourFrom = ceilTo(start, HOUR_MS);
    const hourTo = floorTo(end, HOUR_MS);
    const rawEmpty = (from: Date, to: Date): string => {
      const hour = floorTo(from, HOUR_MS);
      // an hour whose raw records retention dropped has a rollup row but no raw record
      return `NOT EXISTS (SELECT 1 FROM usage_records WHERE workspace_id = ${ws} AND occurred_at >= ${at(from)} AND occurred_at < ${at(to)})
        AND (EXISTS (SELECT 1 FROM usage_records WHERE workspace_id = ${ws} AND occurred_at >= ${at(hour)} AND occurred_at < ${at(new Date(hour.getTime() + HOUR_MS))})
             OR NOT EXISTS (SELECT 1 FROM usage_hourly_providers WHERE workspace_id = ${ws} AND bucket_start = ${at(hour)}))`;
    };
    if (hourFrom > hourTo) return `(${rawEmpty(start, end)})`;
    const checks: string[] = [];
    if (hourFrom < hourTo) {
      checks.push(`NOT EXISTS (SELECT 1 FROM usage_hourly_providers WHERE workspace_id = ${ws}
        AND bucket_start >= ${at(hourFrom)} AND bucket_start < ${at(hourTo)})`);
    }
    if (start < hourFrom) checks.push(rawEmpty(start, hourFrom));
    if (hourTo < end) checks.push(rawEmpty(hourTo, end));
    return `(${checks.join(' AND ')})`;
  };

  const parts =
    unitTo.getTime() - unitFrom.getTime() <= unit
      ? partial(window.from, window.to, unitFrom, unitTo)
      : [
          ...partial(window.from, headEnd, unitFrom, headEnd),
          ...exact(headEnd, tailStart),
          ...partial(tailStart, window.to, tailStart, unitTo),
        ];
  return parts.join('\nUNION ALL\n');
}

/**
 * Facts with the local bucket each falls in, as bucket_start. In zones of whole-hour offsets
 * every facts row stands for one UTC hour (raw rows are truncated to theirs), so the bucket
 * of each hour of the range is computed once and joined, not once per row.
 */
export function bucketedFacts(scope: UsageScope, params: SqlParams, facts: string): string {
  const { window } = scope;
  const unit = params.add(window.granularity);
  const tz = params.add(window.timeZone);
  if (!alignsWithUtcHours(window)) {
    return `SELECT date_trunc(${unit}, f.at, ${tz}) AS bucket_start, f.* FROM (${facts}) f`;
  }
  const first = params.add(floorTo(window.from, HOUR_MS).toISOString());
  const last = params.add(new Date(window.to.getTime() - 1).toISOString());
  return `SELECT h.bucket_start, f.* FROM (${facts}) f
    JOIN (SELECT hour, date_trunc(${unit}, hour, ${tz}) AS bucket_start
          FROM generate_series(${first}::timestamptz, ${last}::timestamptz, interval '1 hour') AS hour) h ON h.hour = f.at`;
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
    // finds exactly the local hours that bucketOf gives the records.
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
