import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseIsoDateTime } from '../../src/domain/iso-date-time';

const two = (n: number) => String(n).padStart(2, '0');

describe('parseIsoDateTime', () => {
  it('reads a day the month has as that day, and refuses one it does not have (never another day)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1970, max: 9998 }),
        fc.integer({ min: 0, max: 13 }),
        fc.integer({ min: 0, max: 32 }),
        fc.integer({ min: 0, max: 24 }),
        (year, month, day, hour) => {
          const text = `${year}-${two(month)}-${two(day)}T${two(hour)}:30:00Z`;
          const exists =
            month >= 1 &&
            month <= 12 &&
            hour <= 23 &&
            day >= 1 &&
            day <= new Date(Date.UTC(year, month, 0)).getUTCDate();
          const at = parseIsoDateTime(text);
          expect(at?.toISOString() ?? null).toBe(
            exists ? `${year}-${two(month)}-${two(day)}T${two(hour)}:30:00.000Z` : null,
          );
        },
      ),
      { numRuns: 2_000 },
    );
  });

  it('keeps offsets and fractions, and refuses a leap second and text that is not RFC 3339', () => {
    expect(parseIsoDateTime('2024-02-29T23:30:00.5+01:00')?.toISOString()).toBe('2024-02-29T22:30:00.500Z');
    for (const text of [
      '2026-02-29T00:00:00Z',
      '2026-04-31T10:00:00Z',
      '2026-01-01T24:00:00Z',
      '2026-06-30T23:59:60Z',
      '2026-01-01T00:00Z',
      '2026-01-01 00:00:00Z',
      '2026-01-01T00:00:00',
    ]) {
      expect(parseIsoDateTime(text), text).toBeNull();
    }
  });
});
