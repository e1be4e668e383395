/**
 * A zone's UTC offsets as the database has them. PostgreSQL computes quota periods, the local
 * labels of records not yet folded and the buckets a chart is zero-filled with; the service
 * cuts ranges into local days and months. Both must use one copy of the time zone data: Node's
 * (ICU) and PostgreSQL's are updated on their own schedules and do disagree (America/Vancouver
 * from November 2026: −07:00 all year in PostgreSQL 18.4, −08:00 in winter in Node 20's tzdata
 * 2025c), and where they did, a chart's buckets missed the sums cut for them. So the service
 * reads each zone's offsets from the database once (infrastructure) and keeps them here.
 */
export interface ZoneRules {
  /** minutes east of UTC before the first change */
  initial: number;
  /** instants (ms since the epoch), ascending, at which the offset changes */
  changes: readonly number[];
  /** the offset from each change on */
  offsets: readonly number[];
  /** the instants the rules were read for, [from, to): outside them Intl answers */
  from: number;
  to: number;
}

/**
 * Keyed by lower-case name: PostgreSQL reads zone names case-insensitively, as Intl does, so
 * every spelling of a zone shares one entry, and the book is bounded by the zones that exist.
 */
const book = new Map<string, ZoneRules>();
/** Names Intl accepts and the database does not: refused as unknown. */
const refused = new Set<string>();

export function adoptZoneRules(zone: string, rules: ZoneRules): void {
  book.set(zone.toLowerCase(), rules);
}

export function refuseZone(zone: string): void {
  refused.add(zone.toLowerCase());
}

export function hasZoneRules(zone: string): boolean {
  return book.has(zone.toLowerCase());
}

export function isRefusedZone(zone: string): boolean {
  return refused.has(zone.toLowerCase());
}

/** The offset at `at` by the zone's rules, or undefined where none are kept for that instant. */
export function offsetByRules(zone: string, at: number): number | undefined {
  const rules = book.get(zone.toLowerCase());
  if (!rules || at < rules.from || at >= rules.to) return undefined;
  const { changes, offsets } = rules;
  // the last change at or before `at`
  let low = 0;
  let high = changes.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (changes[mid]! <= at) low = mid + 1;
    else high = mid;
  }
  return low === 0 ? rules.initial : offsets[low - 1]!;
}
