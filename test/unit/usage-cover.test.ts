import { describe, expect, it } from 'vitest';
import { coverRange, type Level, type Piece } from '../../src/infrastructure/persistence/usage-cover';
import { seededRandom } from '../support/usage-checks';

const HOUR = 3_600_000;
const utc = (iso: string) => new Date(iso);

/** How often each hour is counted by the pieces (signed): exactly 1 inside the range, 0 outside. */
function hourCounts(pieces: Piece[]): Map<number, number> {
  const counts = new Map<number, number>();
  for (const piece of pieces) {
    for (let t = piece.from.getTime(); t < piece.to.getTime(); t += HOUR) {
      counts.set(t, (counts.get(t) ?? 0) + piece.sign);
    }
  }
  for (const [t, n] of counts) if (n === 0) counts.delete(t);
  return counts;
}

function expectExact(from: Date, to: Date, levels: Level[], now: Date): Piece[] {
  const pieces = coverRange(from, to, levels, now);
  const expected = new Map<number, number>();
  for (let t = from.getTime(); t < to.getTime(); t += HOUR) expected.set(t, 1);
  expect(hourCounts(pieces)).toEqual(expected);
  for (const piece of pieces) {
    expect(piece.from < piece.to, JSON.stringify(piece)).toBe(true);
    expect(levels).toContain(piece.level);
  }
  return pieces;
}

/** Rows read per key: units of each piece up to now. */
function rowsRead(pieces: Piece[], now: Date): number {
  const unitMs = { month: 30 * 24 * HOUR, dekad: 10 * 24 * HOUR, day: 24 * HOUR, quarter: 6 * HOUR, hour: HOUR };
  return pieces.reduce((n, p) => {
    const end = Math.min(p.to.getTime(), now.getTime());
    return n + Math.max(0, Math.ceil((end - p.from.getTime()) / unitMs[p.level]));
  }, 0);
}

const summary = (pieces: Piece[]) =>
  pieces.map((p) => `${p.sign > 0 ? '+' : '-'}${p.level} ${p.from.toISOString()}..${p.to.toISOString()}`);

describe('covering a range with signed rollup pieces', () => {
  it('counts every hour of random ranges exactly once, whatever the levels and now', () => {
    const random = seededRandom(7);
    const start = utc('2024-12-01T00:00:00Z').getTime();
    for (let i = 0; i < 400; i += 1) {
      const a = start + Math.floor(random() * 24 * 120) * HOUR;
      const b = a + (1 + Math.floor(random() * 24 * (random() < 0.5 ? 3 : 100))) * HOUR;
      const now = new Date(start + Math.floor(random() * 24 * 150) * HOUR);
      for (const levels of [
        ['month', 'dekad', 'day', 'quarter', 'hour'],
        ['month', 'day', 'quarter', 'hour'],
        ['quarter', 'hour'],
        ['month', 'dekad', 'day', 'hour'],
        ['month', 'day', 'hour'],
        ['dekad', 'day', 'hour'],
        ['day', 'hour'],
        ['hour'],
      ] as Level[][]) {
        expectExact(new Date(a), new Date(b), levels, now);
      }
    }
  });

  it('gives a range the pieces it would get afresh when another range of its shape was covered before', () => {
    const random = seededRandom(11);
    const DAY = 24 * HOUR;
    const start = utc('2025-01-01T00:00:00Z').getTime();
    const later = utc('2030-01-01T00:00:00Z');
    for (let i = 0; i < 300; i += 1) {
      const a = start + Math.floor(random() * 24 * 400) * HOUR;
      const b = a + (1 + Math.floor(random() * 24 * 9)) * HOUR;
      for (const levels of [
        ['day', 'quarter', 'hour'],
        ['day', 'hour'],
        ['quarter', 'hour'],
      ] as Level[][]) {
        // ending less than a day before now, every piece is chosen afresh; the costs are the same
        const afresh = summary(expectExact(new Date(a), new Date(b), levels, new Date(b + DAY - 1)));
        const days = 1 + Math.floor(random() * 30);
        expectExact(new Date(a - days * DAY), new Date(b - days * DAY), levels, later);
        expect(summary(expectExact(new Date(a), new Date(b), levels, later))).toEqual(afresh);
      }
    }
  });

  it('reads a range from the middle of a month with at most five days at each end, with dekads', () => {
    const from = utc('2026-11-15T23:00:00Z');
    const to = utc('2026-12-07T23:00:00Z');
    const now = utc('2026-12-07T21:30:00Z');
    const rows = (pieces: Piece[]) => rowsRead(pieces, now);
    const withDekads = expectExact(from, to, ['month', 'dekad', 'day', 'hour'], now);
    const days = (pieces: Piece[]) =>
      Math.max(
        ...pieces.filter((p) => p.level === 'day').map((p) => (p.to.getTime() - p.from.getTime()) / (24 * HOUR)),
      );
    expect(days(withDekads)).toBeLessThanOrEqual(5);
    expect(rows(withDekads)).toBeLessThanOrEqual(10);
    // without dekads: a fortnight of days
    const withoutDekads = expectExact(from, to, ['month', 'day', 'hour'], now);
    expect(days(withoutDekads)).toBeGreaterThanOrEqual(14);
    expect(rows(withoutDekads)).toBeGreaterThanOrEqual(16);
  });

  it('ends dekads on the 11th, the 21st and the first of the next month, February and leap years included', () => {
    for (const [from, to] of [
      ['2026-02-21T00:00:00Z', '2026-03-01T00:00:00Z'],
      ['2028-02-21T00:00:00Z', '2028-03-01T00:00:00Z'],
      ['2026-12-21T00:00:00Z', '2027-01-01T00:00:00Z'],
      ['2026-04-11T00:00:00Z', '2026-04-21T00:00:00Z'],
    ]) {
      const pieces = expectExact(utc(from!), utc(to!), ['dekad', 'day', 'hour'], utc('2030-01-01T00:00:00Z'));
      expect(summary(pieces)).toEqual([`+dekad ${utc(from!).toISOString()}..${utc(to!).toISOString()}`]);
    }
  });

  it('reads 90 days up to now as months minus the days outside', () => {
    const pieces = expectExact(
      utc('2026-09-03T22:00:00Z'),
      utc('2026-12-02T23:00:00Z'),
      ['month', 'day', 'hour'],
      utc('2026-12-02T21:30:00Z'),
    );
    expect(summary(pieces)).toEqual([
      '-day 2026-09-01T00:00:00.000Z..2026-09-04T00:00:00.000Z',
      '+month 2026-09-01T00:00:00.000Z..2027-01-01T00:00:00.000Z',
      '+hour 2026-09-03T22:00:00.000Z..2026-09-04T00:00:00.000Z',
      '-hour 2026-12-02T23:00:00.000Z..2026-12-03T00:00:00.000Z',
      '-day 2026-12-03T00:00:00.000Z..2027-01-01T00:00:00.000Z',
    ]);
  });

  it('reads a Berlin day as the UTC day minus its last hour plus the hour before', () => {
    const pieces = expectExact(
      utc('2026-11-09T23:00:00Z'),
      utc('2026-11-10T23:00:00Z'),
      ['month', 'day', 'hour'],
      utc('2026-12-02T00:00:00Z'),
    );
    expect(summary(pieces)).toEqual([
      '+hour 2026-11-09T23:00:00.000Z..2026-11-10T00:00:00.000Z',
      '+day 2026-11-10T00:00:00.000Z..2026-11-11T00:00:00.000Z',
      '-hour 2026-11-10T23:00:00.000Z..2026-11-11T00:00:00.000Z',
    ]);
  });

  it('reads the whole hours of a day in India from 4 rows with quarters of a day, where hours alone take 12', () => {
    // a local day in Asia/Kolkata is 18:30 to 18:30 UTC; its whole UTC hours run 19:00 to 18:00
    const from = utc('2026-11-09T19:00:00Z');
    const to = utc('2026-11-10T18:00:00Z');
    const now = utc('2026-12-02T00:00:00Z');
    const withQuarters = expectExact(from, to, ['month', 'day', 'quarter', 'hour'], now);
    expect(summary(withQuarters)).toEqual([
      '-hour 2026-11-09T18:00:00.000Z..2026-11-09T19:00:00.000Z',
      '+quarter 2026-11-09T18:00:00.000Z..2026-11-10T00:00:00.000Z',
      '+day 2026-11-10T00:00:00.000Z..2026-11-11T00:00:00.000Z',
      '-quarter 2026-11-10T18:00:00.000Z..2026-11-11T00:00:00.000Z',
    ]);
    expect(rowsRead(withQuarters, now)).toBe(4);
    expect(rowsRead(expectExact(from, to, ['month', 'day', 'hour'], now), now)).toBe(12);
  });

  it('reads a Berlin day as before, quarters or not', () => {
    const from = utc('2026-11-09T23:00:00Z');
    const to = utc('2026-11-10T23:00:00Z');
    const now = utc('2026-12-02T00:00:00Z');
    expect(summary(expectExact(from, to, ['month', 'day', 'quarter', 'hour'], now))).toEqual(
      summary(expectExact(from, to, ['month', 'day', 'hour'], now)),
    );
  });
});
