import { describe, expect, it } from 'vitest';
import { isTimeZone } from '../../src/domain/usage-window';

describe('isTimeZone', () => {
  it('tells IANA zones from other names, also when asked again (valid zones are remembered)', () => {
    for (let round = 0; round < 3; round += 1) {
      expect(isTimeZone('Europe/Berlin')).toBe(true);
      expect(isTimeZone('Asia/Kolkata')).toBe(true);
      expect(isTimeZone('UTC')).toBe(true);
      expect(isTimeZone('Mars/Olympus')).toBe(false);
      expect(isTimeZone('')).toBe(false);
    }
  });

  it('answers the same once its memory of valid zones is full', () => {
    // Intl takes any spelling's case: thousands of distinct valid names, more than it keeps
    const name = 'america/argentina/buenos_aires';
    const letters = [...name].map((c, i) => ({ c, i })).filter(({ c }) => /[a-z]/.test(c));
    for (let n = 0; n < 2100; n += 1) {
      const chars = [...name];
      letters.slice(0, 12).forEach(({ c, i }, bit) => {
        if ((n >> bit) & 1) chars[i] = c.toUpperCase();
      });
      expect(isTimeZone(chars.join(''))).toBe(true);
    }
    expect(isTimeZone('Europe/Berlin')).toBe(true);
    expect(isTimeZone('Europe/Nowhere')).toBe(false);
  });
});
