/**
 * How a range is split before it is read: pure functions over instants, tested one by one.
 * The SQL that reads each part is assembled in usage-facts.ts.
 */
import { localPeriodStart, type UsageWindow } from '../../domain/usage-window';
import { coverRange, type Level, type Piece } from './usage-cover';

export const HOUR_MS = 3_600_000;
export const SLOT_MS = 15 * 60_000;
/** Parts shorter than these are read without months / dekads (see splitSegments). */
const SHORT_FOR: Partial<Record<Level, number>> = { month: 14 * 24 * HOUR_MS, dekad: 5 * 24 * HOUR_MS };
export const floorHour = (date: Date): Date => new Date(Math.floor(date.getTime() / HOUR_MS) * HOUR_MS);
export const ceilHour = (date: Date): Date => new Date(Math.ceil(date.getTime() / HOUR_MS) * HOUR_MS);

/** Start instants of the local buckets (day, week or month) that meet the window, and the end of the last one. */
export function localBuckets(window: UsageWindow): Date[] {
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

/** A part of the window inside one bucket (bucket null when unbucketed or bucketed by the hour). */
export interface Segment {
  from: Date;
  to: Date;
  bucket: Date | null;
}

/** The window cut at the starts of the given buckets, each part labelled with its bucket. */
export function segmentsOf(window: Pick<UsageWindow, 'from' | 'to'>, buckets: Date[] | null): Segment[] {
  if (!buckets) return [{ from: window.from, to: window.to, bucket: null }];
  const from = window.from.getTime();
  const to = window.to.getTime();
  const segments: Segment[] = [];
  // buckets are in order: each part runs from a cut to the next, in the last bucket started by then
  let start = window.from;
  let current = buckets[0]!;
  for (const bucket of buckets) {
    const at = bucket.getTime();
    if (at <= from) {
      current = bucket;
      continue;
    }
    if (at >= to) break;
    segments.push({ from: start, to: bucket, bucket: current });
    start = bucket;
    current = bucket;
  }
  segments.push({ from: start, to: window.to, bucket: current });
  return segments;
}

export type LabelledPiece = Piece & { bucket: Date | null };

/** Less than an hour: read finer than any hourly rollup. */
export interface PartialHour {
  from: Date;
  to: Date;
  /** the UTC hour it lies in */
  hour: Date;
  bucket: Date | null;
}

/**
 * Each segment as signed pieces of whole UTC hours, days and months (see usage-cover.ts) and
 * the partial hours at its ends. `now` only steers which pieces are cheaper to read.
 */
export function splitSegments(
  segments: Segment[],
  levels: readonly Level[],
  now: Date,
): { pieces: LabelledPiece[]; partials: PartialHour[] } {
  const pieces: LabelledPiece[] = [];
  const partials: PartialHour[] = [];
  const partial = (from: Date, to: Date, bucket: Date | null): void => {
    partials.push({ from, to, hour: floorHour(from), bucket });
  };
  for (const segment of segments) {
    const wholeFrom = ceilHour(segment.from);
    const wholeTo = floorHour(segment.to);
    if (wholeFrom > wholeTo) {
      partial(segment.from, segment.to, segment.bucket);
      continue;
    }
    if (wholeFrom < wholeTo) {
      // a month less the days outside costs more rows than the days of a part under two weeks
      // (a key that has a row in a month may have none in most of its days), a dekad less
      // days likewise under five days
      const span = wholeTo.getTime() - wholeFrom.getTime();
      const useful = levels.filter((l) => span >= (SHORT_FOR[l] ?? 0));
      for (const { level, sign, from, to } of coverRange(wholeFrom, wholeTo, useful, now)) {
        pieces.push({ level, sign, from, to, bucket: segment.bucket });
      }
    }
    if (segment.from < wholeFrom) partial(segment.from, wholeFrom, segment.bucket);
    if (wholeTo < segment.to) partial(wholeTo, segment.to, segment.bucket);
  }
  return { pieces, partials };
}

/** Whether a partial hour starts and ends on 15-minute boundaries (a local midnight in India). */
export const onSlotBoundaries = (p: PartialHour): boolean =>
  p.from.getTime() % SLOT_MS === 0 && p.to.getTime() % SLOT_MS === 0;

/** The start of the UTC month an instant lies in. */
export function utcMonthOf(date: Date): Date {
  return new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), 1));
}

/**
 * Partial hours grouped by the UTC month they lie in (an hour never spans two), so that each
 * group reads one raw partition, named by constant bounds the planner prunes with.
 */
export function byUtcMonth(partials: PartialHour[]): Array<{ month: Date; next: Date; partials: PartialHour[] }> {
  const groups = new Map<number, PartialHour[]>();
  for (const p of partials) {
    const key = utcMonthOf(p.hour).getTime();
    groups.set(key, [...(groups.get(key) ?? []), p]);
  }
  return [...groups.entries()]
    .sort(([a], [b]) => a - b)
    .map(([key, list]) => {
      const month = new Date(key);
      return { month, next: new Date(Date.UTC(month.getUTCFullYear(), month.getUTCMonth() + 1, 1)), partials: list };
    });
}
