import { parseIsoDateTime } from './iso-date-time';
import { ValidationError } from './errors';
import { isRefusedZone, offsetByRules } from './time-zone-rules';

export type Granularity = 'hour' | 'day' | 'week' | 'month';
export const GRANULARITIES: readonly Granularity[] = ['hour', 'day', 'week', 'month'];

const DAY_MS = 24 * 60 * 60 * 1000;
/** two calendar years, leap days included */
export const MAX_SPAN_MS = 731 * DAY_MS;
export const DEFAULT_SPAN_MS = 30 * DAY_MS;
/** more buckets than this is not a chart any more: ask for a coarser granularity */
export const MAX_BUCKETS = 5000;
const APPROX_BUCKET_MS: Record<Granularity, number> = {
  hour: 3_600_000,
  day: DAY_MS,
  week: 7 * DAY_MS,
  month: 28 * DAY_MS,
};

/**
 * Zones found valid: asking Intl costs ~0.25 ms a call (it builds a formatter), on every Usage
 * tab request. Only valid names are kept, at most a bound's worth (Intl also takes any
 * spelling's case, so hostile input could otherwise grow it).
 */
const validZones = new Set<string>();
const VALID_ZONES_KEPT = 2000;

/** A zone both Intl and the database know (time-zone-rules.ts: names the database refused are kept). */
export function isTimeZone(name: string): boolean {
  if (isRefusedZone(name)) return false;
  if (validZones.has(name)) return true;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
  } catch {
    return false;
  }
  if (validZones.size < VALID_ZONES_KEPT) validZones.add(name);
  return true;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/**
 * Offsets change only at whole quarter hours (since 1980 in every zone), so an offset found
 * for a quarter hour holds for all of it: a query asks for the same few quarter hours many
 * times (every bucket start), and each answer from Intl costs microseconds.
 */
const QUARTER_HOUR_MS = 900_000;
const CACHE_LIMIT = 100_000;
const QUARTER_HOURS_SINCE = Date.UTC(1980, 0, 1);
const knownOffsets = new Map<string, number>();

/** Minutes east of UTC of `zone` at `at`: by the database's rules where they were read, else by Intl. */
export function utcOffsetMinutes(zone: string, at: Date): number {
  const ruled = offsetByRules(zone, at.getTime());
  if (ruled !== undefined) return ruled;
  if (at.getTime() < QUARTER_HOURS_SINCE) return offsetFromIntl(zone, at);
  const key = `${zone}|${Math.floor(at.getTime() / QUARTER_HOUR_MS)}`;
  let offset = knownOffsets.get(key);
  if (offset === undefined) {
    offset = offsetFromIntl(zone, at);
    if (knownOffsets.size >= CACHE_LIMIT) knownOffsets.clear();
    knownOffsets.set(key, offset);
  }
  return offset;
}

function offsetFromIntl(zone: string, at: Date): number {
  let formatter = formatters.get(zone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(zone, formatter);
  }
  const parts = formatter.formatToParts(at);
  const get = (type: string): number => Number(parts.find((p) => p.type === type)?.value);
  const asUtc = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second'));
  return Math.round((asUtc - Math.floor(at.getTime() / 1000) * 1000) / 60_000);
}

/**
 * A half-open range [from, to) read in a time zone: what every Usage tab query is about.
 * Buckets start at local midnight (weeks on Monday) in `timeZone`.
 */
export interface UsageWindow {
  from: Date;
  to: Date;
  timeZone: string;
  granularity: Granularity;
}

export interface UsageWindowInput {
  from?: string;
  to?: string;
  tz?: string;
  granularity?: Granularity;
}

/**
 * Instants a range may name: four-digit years, with a year to spare at the end for the bucket
 * and month bounds computed past `to`.
 */
const EARLIEST = Date.UTC(1970, 0, 1);
const LATEST = Date.UTC(9999, 0, 1) - 1;

function parseInstant(value: string, field: string): Date {
  const date = parseIsoDateTime(value);
  if (date === null) {
    throw new ValidationError(`${field} must be an ISO 8601 date-time`, [
      { path: `/querystring/${field}`, message: 'must be an ISO 8601 date-time such as 2026-11-01T00:00:00Z' },
    ]);
  }
  if (date.getTime() < EARLIEST || date.getTime() > LATEST) {
    throw new ValidationError(`${field} is out of range`, [
      { path: `/querystring/${field}`, message: 'must be from 1970-01-01T00:00:00Z to 9998-12-31T23:59:59.999Z' },
    ]);
  }
  return date;
}

export function usageWindow(input: UsageWindowInput, now: Date): UsageWindow {
  const timeZone = input.tz ?? 'UTC';
  if (!isTimeZone(timeZone)) {
    throw new ValidationError(`unknown time zone ${JSON.stringify(timeZone)}`, [
      { path: '/querystring/tz', message: 'must be an IANA time zone such as Europe/Berlin' },
    ]);
  }
  const to = input.to === undefined ? now : parseInstant(input.to, 'to');
  const from = input.from === undefined ? new Date(to.getTime() - DEFAULT_SPAN_MS) : parseInstant(input.from, 'from');
  if (from.getTime() >= to.getTime()) {
    throw new ValidationError('from must be before to', [{ path: '/querystring/from', message: 'must be before to' }]);
  }
  if (to.getTime() - from.getTime() > MAX_SPAN_MS) {
    throw new ValidationError('the range may span at most 2 years', [
      { path: '/querystring/from', message: 'from and to may be at most 2 years apart' },
    ]);
  }
  const granularity = input.granularity ?? 'day';
  if ((to.getTime() - from.getTime()) / APPROX_BUCKET_MS[granularity] > MAX_BUCKETS) {
    throw new ValidationError(`more than ${MAX_BUCKETS} ${granularity} buckets; choose a coarser granularity`, [
      { path: '/querystring/granularity', message: `at most ${MAX_BUCKETS} buckets per range` },
    ]);
  }
  return { from, to, timeZone, granularity };
}

/**
 * True when every UTC offset of the zone during the range is a whole number of hours, so
 * that local bucket boundaries fall on UTC hour boundaries and hourly rollups answer exactly.
 */
export function alignsWithUtcHours(window: UsageWindow): boolean {
  // every period of one offset lasts weeks at least: a sample a day and both ends find them
  for (let t = window.from.getTime(); ; t += DAY_MS) {
    const at = new Date(Math.min(t, window.to.getTime()));
    if (utcOffsetMinutes(window.timeZone, at) % 60 !== 0) return false;
    if (at.getTime() >= window.to.getTime()) return true;
  }
}

/**
 * The instant a local calendar period containing `at` began in `zone`: today's midnight,
 * this week's Monday midnight, or the 1st of this month, DST-correct.
 */
export function localPeriodStart(unit: 'day' | 'week' | 'month', at: Date, zone: string): Date {
  const local = new Date(at.getTime() + utcOffsetMinutes(zone, at) * 60_000);
  let start = Date.UTC(local.getUTCFullYear(), local.getUTCMonth(), unit === 'month' ? 1 : local.getUTCDate());
  if (unit === 'week') start -= ((local.getUTCDay() + 6) % 7) * DAY_MS;
  // local wall time -> instant; the offset at midnight may differ from the offset now (DST)
  let instant = start - utcOffsetMinutes(zone, at) * 60_000;
  instant = start - utcOffsetMinutes(zone, new Date(instant)) * 60_000;
  return new Date(instant);
}
