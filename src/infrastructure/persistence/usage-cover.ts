/**
 * Which rollup rows add up to a range. Every rollup metric is a sum, so a range can be read
 * as the UTC months, dekads (where a rollup has them), days and hours it spans, and just as
 * well as a whole month minus the days of it outside the range: `+ November − November 1st`
 * is two rows per key where the 29 days would be 29. The cover picks, level by level,
 * whichever costs fewer rows.
 */
export type Level = 'month' | 'dekad' | 'day' | 'quarter' | 'hour';

export interface Piece {
  level: Level;
  sign: 1 | -1;
  /** whole units of the level: [from, to) */
  from: Date;
  to: Date;
}

interface Cover {
  pieces: Piece[];
  cost: number;
}

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
/** reading a range costs an index probe even where it holds nothing */
const PROBE_COST = 0.25;

/** The levels of one length; a UTC quarter of a day starts at 00:00, 06:00, 12:00 or 18:00 UTC. */
const UNIT_MS = { day: DAY_MS, quarter: 6 * HOUR_MS, hour: HOUR_MS };

/** A dekad starts on the 1st, 11th or 21st of a month; the last runs to the month's end. */
const DEKAD_STARTS = [1, 11, 21];

export function floorUnit(level: Level, at: Date): Date {
  if (level === 'month') return new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), 1));
  if (level === 'dekad') {
    const day = DEKAD_STARTS[Math.min(2, Math.floor((at.getUTCDate() - 1) / 10))]!;
    return new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), day));
  }
  const unit = UNIT_MS[level];
  return new Date(Math.floor(at.getTime() / unit) * unit);
}

/** The start of the unit after the one starting at `start`. */
function nextUnit(level: Level, start: Date): Date {
  if (level === 'month') return new Date(Date.UTC(start.getUTCFullYear(), start.getUTCMonth() + 1, 1));
  if (level === 'dekad') {
    const day = start.getUTCDate();
    return day >= 21
      ? new Date(Date.UTC(start.getUTCFullYear(), start.getUTCMonth() + 1, 1))
      : new Date(Date.UTC(start.getUTCFullYear(), start.getUTCMonth(), day + 10));
  }
  return new Date(start.getTime() + UNIT_MS[level]);
}

export function ceilUnit(level: Level, at: Date): Date {
  const floor = floorUnit(level, at);
  return floor.getTime() === at.getTime() ? floor : nextUnit(level, floor);
}

/** About how long a unit of each level is, for counting rows. */
const ROUGH_UNIT_MS: Record<Level, number> = { month: 30 * DAY_MS, dekad: 10 * DAY_MS, ...UNIT_MS };

/** Rows per key a piece reads: its units up to `now` (later ones hold no usage, as a rule). */
function costOf(level: Level, from: Date, to: Date, now: Date): number {
  const end = to < now ? to : now;
  if (end <= from) return PROBE_COST;
  return PROBE_COST + Math.ceil((end.getTime() - from.getTime()) / ROUGH_UNIT_MS[level]);
}

const EMPTY: Cover = { pieces: [], cost: 0 };

function whole(level: Level, from: Date, to: Date, now: Date): Cover {
  return { pieces: [{ level, sign: 1, from, to }], cost: costOf(level, from, to, now) };
}

function join(...covers: Cover[]): Cover {
  const joined: Cover = { pieces: [], cost: 0 };
  for (const c of covers) {
    for (const piece of c.pieces) joined.pieces.push(piece);
    joined.cost += c.cost;
  }
  return joined;
}

function negate(cover: Cover): Cover {
  return { pieces: cover.pieces.map((p) => ({ ...p, sign: p.sign === 1 ? -1 : 1 })), cost: cover.cost };
}

const cheaper = (a: Cover, b: Cover): Cover => (b.cost < a.cost ? b : a);

/**
 * Signed pieces whose sum is exactly the usage in [from, to); both ends must be whole UTC
 * hours. `levels` runs from the coarsest to 'hour'. `now` only steers the choice.
 */
export function coverRange(from: Date, to: Date, levels: readonly Level[], now: Date): Piece[] {
  // with units of a day and less, a range moved by whole days is covered by its pieces moved
  // likewise, as long as none of them reaches `now` (which steers the choice): a chart of 90
  // local days asks for one shape of day (two across a change of clocks) 90 times
  if (to.getTime() + DAY_MS > now.getTime() || !levels.every((level) => level in UNIT_MS)) {
    return merged(cover(from, to, levels, now).pieces);
  }
  const day = Math.floor(from.getTime() / DAY_MS) * DAY_MS;
  const key = `${levels.join()} ${from.getTime() - day} ${to.getTime() - from.getTime()}`;
  let shape = SHAPES.get(key);
  if (shape === undefined) {
    if (SHAPES.size >= MAX_SHAPES) SHAPES.clear();
    shape = merged(cover(from, to, levels, now).pieces).map((p) => ({
      level: p.level,
      sign: p.sign,
      from: p.from.getTime() - day,
      to: p.to.getTime() - day,
    }));
    SHAPES.set(key, shape);
  }
  return shape.map((p) => ({ level: p.level, sign: p.sign, from: new Date(day + p.from), to: new Date(day + p.to) }));
}

/** Covers by shape (levels, start within its UTC day, length), their times from that day's start. */
const SHAPES = new Map<string, Array<{ level: Level; sign: 1 | -1; from: number; to: number }>>();
const MAX_SHAPES = 4_096;

/** Adjacent pieces of one level and sign as one range, in time order. */
function merged(pieces: Piece[]): Piece[] {
  const sorted = [...pieces].sort((a, b) => a.from.getTime() - b.from.getTime() || a.to.getTime() - b.to.getTime());
  const out: Piece[] = [];
  const runs = new Map<string, Piece>();
  for (const piece of sorted) {
    const key = `${piece.level}${piece.sign}`;
    const run = runs.get(key);
    if (run && run.to.getTime() === piece.from.getTime()) {
      run.to = piece.to;
    } else {
      const copy = { ...piece };
      out.push(copy);
      runs.set(key, copy);
    }
  }
  return out;
}

function cover(from: Date, to: Date, levels: readonly Level[], now: Date): Cover {
  if (from >= to) return EMPTY;
  const [level, ...lower] = levels;
  if (level === undefined) throw new Error('no level to cover a range with');
  if (lower.length === 0) return whole(level, from, to, now);
  const head = ceilUnit(level, from);
  const tail = floorUnit(level, to);
  if (head > tail) {
    // inside one unit: the pieces below, or the unit minus what lies outside the range
    const start = floorUnit(level, from);
    const end = nextUnit(level, start);
    return cheaper(
      cover(from, to, lower, now),
      join(whole(level, start, end, now), negate(cover(start, from, lower, now)), negate(cover(to, end, lower, now))),
    );
  }
  const parts: Cover[] = [];
  if (from < head) {
    const start = floorUnit(level, from);
    parts.push(
      cheaper(
        cover(from, head, lower, now),
        join(whole(level, start, head, now), negate(cover(start, from, lower, now))),
      ),
    );
  }
  if (head < tail) parts.push(whole(level, head, tail, now));
  if (tail < to) {
    const end = nextUnit(level, tail);
    parts.push(
      cheaper(cover(tail, to, lower, now), join(whole(level, tail, end, now), negate(cover(to, end, lower, now)))),
    );
  }
  return join(...parts);
}
