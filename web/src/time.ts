/** Ranges in a time zone: local midnights as instants, the way the API buckets them. */
export type Preset = 'today' | '7d' | '30d' | '90d' | 'custom';

export const PRESETS: ReadonlyArray<{ value: Preset; label: string; days: number }> = [
  { value: 'today', label: 'Today', days: 1 },
  { value: '7d', label: 'Last 7 days', days: 7 },
  { value: '30d', label: 'Last 30 days', days: 30 },
  { value: '90d', label: 'Last 90 days', days: 90 },
  { value: 'custom', label: 'Custom', days: 0 },
];

export const browserZone = (): string => Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';

export function zones(): string[] {
  const all = (Intl as { supportedValuesOf?: (key: string) => string[] }).supportedValuesOf?.('timeZone') ?? [];
  return [...new Set(['UTC', browserZone(), ...all])];
}

/** The wall-clock date (y, m, d) of an instant in a zone. */
export function localDate(instant: Date, timeZone: string): [number, number, number] {
  const parts = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' })
    .formatToParts(instant)
    .reduce<Record<string, string>>((acc, p) => ({ ...acc, [p.type]: p.value }), {});
  return [Number(parts.year), Number(parts.month), Number(parts.day)];
}

/** The zone's offset from UTC at an instant, in ms. */
function offsetAt(instant: number, timeZone: string): number {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
    second: 'numeric',
  })
    .formatToParts(new Date(instant))
    .reduce<Record<string, number>>(
      (acc, p) => (p.type === 'literal' ? acc : { ...acc, [p.type]: Number(p.value) }),
      {},
    );
  const wall = Date.UTC(parts.year!, parts.month! - 1, parts.day!, parts.hour!, parts.minute!, parts.second!);
  return wall - (instant - (instant % 1000));
}

/** The instant of local midnight starting (y, m, d) in a zone. */
export function localMidnight(y: number, m: number, d: number, timeZone: string): Date {
  const guess = Date.UTC(y, m - 1, d);
  let instant = guess - offsetAt(guess, timeZone);
  instant = guess - offsetAt(instant, timeZone);
  return new Date(instant);
}

export interface Range {
  from: string;
  to: string;
}

/** The last `days` local days, today included: [midnight days−1 ago, next midnight). */
export function presetRange(preset: Exclude<Preset, 'custom'>, timeZone: string, now = new Date()): Range {
  const days = PRESETS.find((p) => p.value === preset)!.days;
  const [y, m, d] = localDate(now, timeZone);
  return {
    from: localMidnight(y, m, d - days + 1, timeZone).toISOString(),
    to: localMidnight(y, m, d + 1, timeZone).toISOString(),
  };
}

/** Custom dates (YYYY-MM-DD, both included) in a zone. */
export function customRange(fromDate: string, toDate: string, timeZone: string): Range | null {
  const parse = (s: string) => s.split('-').map(Number) as [number, number, number];
  if (!/^\d{4}-\d{2}-\d{2}$/.test(fromDate) || !/^\d{4}-\d{2}-\d{2}$/.test(toDate)) return null;
  const [fy, fm, fd] = parse(fromDate);
  const [ty, tm, td] = parse(toDate);
  const from = localMidnight(fy, fm, fd, timeZone);
  const to = localMidnight(ty, tm, td + 1, timeZone);
  return from < to ? { from: from.toISOString(), to: to.toISOString() } : null;
}

export const isoDate = ([y, m, d]: [number, number, number]): string =>
  `${y}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}`;
