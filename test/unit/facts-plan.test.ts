import { describe, expect, it } from 'vitest';
import {
  byUtcMonth,
  localBuckets,
  onSlotBoundaries,
  segmentsOf,
  splitSegments,
  type PartialHour,
} from '../../src/infrastructure/persistence/facts-plan';
import {
  foldSourceOf,
  FOLD_ORDER,
  ROLLUPS,
  smallestRollup,
  smallestRollupIfAny,
} from '../../src/infrastructure/persistence/rollup-registry';
import type { UsageWindow } from '../../src/domain/usage-window';

const at = (iso: string) => new Date(iso);
const iso = (d: Date | null) => d?.toISOString() ?? null;
const window = (from: string, to: string, timeZone: string, granularity: UsageWindow['granularity'] = 'day') => ({
  from: at(from),
  to: at(to),
  timeZone,
  granularity,
});

describe('localBuckets', () => {
  it('gives Berlin days across the spring change, one of them 23 hours long', () => {
    const starts = localBuckets(window('2026-03-28T10:00:00Z', '2026-03-30T10:00:00Z', 'Europe/Berlin'));
    expect(starts.map(iso)).toEqual([
      '2026-03-27T23:00:00.000Z',
      '2026-03-28T23:00:00.000Z',
      '2026-03-29T22:00:00.000Z',
      '2026-03-30T22:00:00.000Z',
    ]);
  });

  it('gives Monday weeks and calendar months in the zone', () => {
    expect(localBuckets(window('2026-06-03T00:00:00Z', '2026-06-10T00:00:00Z', 'UTC', 'week')).map(iso)).toEqual([
      '2026-06-01T00:00:00.000Z',
      '2026-06-08T00:00:00.000Z',
      '2026-06-15T00:00:00.000Z',
    ]);
    expect(
      localBuckets(window('2026-01-15T00:00:00Z', '2026-02-15T00:00:00Z', 'Asia/Kolkata', 'month')).map(iso),
    ).toEqual(['2025-12-31T18:30:00.000Z', '2026-01-31T18:30:00.000Z', '2026-02-28T18:30:00.000Z']);
  });
});

describe('segmentsOf', () => {
  it('is the whole window when unbucketed', () => {
    expect(segmentsOf({ from: at('2026-06-01T00:30:00Z'), to: at('2026-06-02T00:00:00Z') }, null)).toEqual([
      { from: at('2026-06-01T00:30:00Z'), to: at('2026-06-02T00:00:00Z'), bucket: null },
    ]);
  });

  it('cuts the window at bucket starts and labels each part with the bucket it lies in', () => {
    const buckets = [at('2026-06-01T18:30:00Z'), at('2026-06-02T18:30:00Z'), at('2026-06-03T18:30:00Z')];
    const parts = segmentsOf({ from: at('2026-06-02T00:00:00Z'), to: at('2026-06-03T20:00:00Z') }, buckets);
    expect(parts.map((s) => [iso(s.from), iso(s.to), iso(s.bucket)])).toEqual([
      ['2026-06-02T00:00:00.000Z', '2026-06-02T18:30:00.000Z', '2026-06-01T18:30:00.000Z'],
      ['2026-06-02T18:30:00.000Z', '2026-06-03T18:30:00.000Z', '2026-06-02T18:30:00.000Z'],
      ['2026-06-03T18:30:00.000Z', '2026-06-03T20:00:00.000Z', '2026-06-03T18:30:00.000Z'],
    ]);
  });
});

describe('splitSegments', () => {
  const now = at('2026-07-01T00:00:00Z');

  it('reads whole hours from rollups and only the cut parts of hours finer', () => {
    const { pieces, partials } = splitSegments(
      [{ from: at('2026-06-02T10:20:00Z'), to: at('2026-06-02T13:45:00Z'), bucket: null }],
      ['month', 'day', 'hour'],
      now,
    );
    expect(pieces.map((p) => [p.level, p.sign, iso(p.from), iso(p.to)])).toEqual([
      ['hour', 1, '2026-06-02T11:00:00.000Z', '2026-06-02T13:00:00.000Z'],
    ]);
    expect(partials.map((p) => [iso(p.from), iso(p.to), iso(p.hour)])).toEqual([
      ['2026-06-02T10:20:00.000Z', '2026-06-02T11:00:00.000Z', '2026-06-02T10:00:00.000Z'],
      ['2026-06-02T13:00:00.000Z', '2026-06-02T13:45:00.000Z', '2026-06-02T13:00:00.000Z'],
    ]);
  });

  it('keeps a part inside one hour as one partial hour', () => {
    const { pieces, partials } = splitSegments(
      [{ from: at('2026-06-02T10:15:00Z'), to: at('2026-06-02T10:45:00Z'), bucket: at('2026-06-01T18:30:00Z') }],
      ['month', 'day', 'hour'],
      now,
    );
    expect(pieces).toEqual([]);
    expect(partials).toEqual([
      {
        from: at('2026-06-02T10:15:00Z'),
        to: at('2026-06-02T10:45:00Z'),
        hour: at('2026-06-02T10:00:00Z'),
        bucket: at('2026-06-01T18:30:00Z'),
      },
    ]);
    expect(onSlotBoundaries(partials[0]!)).toBe(true);
    expect(onSlotBoundaries({ ...partials[0]!, to: at('2026-06-02T10:44:00Z') })).toBe(false);
  });
});

describe('byUtcMonth', () => {
  it('groups partial hours by the month their hour lies in, with the month’s bounds', () => {
    const partial = (from: string, to: string): PartialHour => ({
      from: at(from),
      to: at(to),
      hour: new Date(Math.floor(at(from).getTime() / 3_600_000) * 3_600_000),
      bucket: null,
    });
    const groups = byUtcMonth([
      partial('2026-07-01T00:00:00Z', '2026-07-01T00:30:00Z'),
      partial('2026-06-30T23:30:00Z', '2026-07-01T00:00:00Z'),
      partial('2026-06-02T10:20:00Z', '2026-06-02T11:00:00Z'),
    ]);
    expect(groups.map((g) => [iso(g.month), iso(g.next), g.partials.length])).toEqual([
      ['2026-06-01T00:00:00.000Z', '2026-07-01T00:00:00.000Z', 2],
      ['2026-07-01T00:00:00.000Z', '2026-08-01T00:00:00.000Z', 1],
    ]);
  });
});

describe('the rollup registry', () => {
  it('answers each set of dimensions from the rollup with the fewest rows that has them', () => {
    expect(smallestRollup('day', []).table).toBe('usage_daily_providers');
    expect(smallestRollup('day', ['model']).table).toBe('usage_daily_models');
    expect(smallestRollup('day', ['provider']).table).toBe('usage_daily_providers');
    expect(smallestRollup('month', ['provider']).table).toBe('usage_monthly_models');
    expect(smallestRollup('day', ['user_id']).table).toBe('usage_daily_users');
    expect(smallestRollup('month', ['user_id', 'model']).table).toBe('usage_monthly_user_models');
    expect(smallestRollup('hour', ['user_id']).table).toBe('usage_hourly_users');
    expect(smallestRollup('hour', ['user_id', 'provider']).table).toBe('usage_hourly');
    expect(smallestRollup('dekad', ['user_id']).table).toBe('usage_dekad_users');
    expect(smallestRollup('quarter', []).table).toBe('usage_quarter_providers');
    expect(smallestRollupIfAny('quarter', ['model'])).toBeUndefined();
  });

  it('sums every rollup in the fold from a delta computed before it, or from the moved rows', () => {
    const sources = Object.fromEntries(ROLLUPS.map((r) => [r.table, foldSourceOf(r)?.table ?? 'moved']));
    expect(sources).toEqual({
      usage_hourly: 'moved',
      usage_slot_providers: 'moved',
      usage_hourly_models: 'usage_hourly',
      usage_daily_user_models: 'usage_hourly',
      usage_daily_models: 'usage_hourly_models',
      usage_hourly_users: 'usage_hourly',
      usage_daily_users: 'usage_hourly_users',
      usage_monthly_user_models: 'usage_daily_user_models',
      usage_dekad_users: 'usage_daily_users',
      usage_monthly_users: 'usage_dekad_users',
      usage_monthly_models: 'usage_daily_models',
      usage_hourly_providers: 'usage_hourly_models',
      usage_quarter_providers: 'usage_hourly_providers',
      usage_daily_providers: 'usage_quarter_providers',
    });
    for (const rollup of FOLD_ORDER) {
      const source = foldSourceOf(rollup);
      if (source) expect(FOLD_ORDER.indexOf(source), rollup.table).toBeLessThan(FOLD_ORDER.indexOf(rollup));
    }
  });
});
