import { describe, expect, it } from 'vitest';
import { Decimal } from '../../src/domain/decimal';

const d = (text: string) => Decimal.parse(text);

describe('Decimal', () => {
  it('adds exactly where binary floats do not: 0.1 + 0.2 = 0.3', () => {
    expect(0.1 + 0.2).not.toBe(0.3);
    expect(d('0.1').plus(d('0.2')).toString()).toBe('0.3');
    expect(d('0.1').plus(d('0.2')).compare(d('0.3'))).toBe(0);
  });

  it('sums one million micro-dollars to exactly one dollar', () => {
    const micro = d('0.000001');
    let sum = Decimal.ZERO;
    for (let i = 0; i < 1_000_000; i += 1) sum = sum.plus(micro);
    expect(sum.toString()).toBe('1');
    expect(sum.toString(6)).toBe('1.000000');
  });

  it('takes a JSON number at the decimal text it was written as', () => {
    expect(Decimal.fromNumber(1e-7).toString()).toBe('0.0000001');
    expect(Decimal.fromNumber(0.1).toString()).toBe('0.1');
    expect(Decimal.fromNumber(2.5).toString()).toBe('2.5');
    expect(Decimal.fromNumber(10).toString()).toBe('10');
    expect(Decimal.fromNumber(1e21).toString()).toBe('1000000000000000000000');
    expect(Decimal.fromNumber(-1.5e-7).toString()).toBe('-0.00000015');
    // a float that already went wrong is kept as the number it is, not silently rounded
    expect(Decimal.fromNumber(0.1 + 0.2).toString()).toBe('0.30000000000000004');
    expect(() => Decimal.fromNumber(Number.NaN)).toThrow(RangeError);
    expect(() => Decimal.fromNumber(Number.POSITIVE_INFINITY)).toThrow(RangeError);
  });

  it('trims trailing zeros in toString, and pads to a minimum scale when asked', () => {
    expect(d('2.00').toString()).toBe('2');
    expect(d('2.500').toString()).toBe('2.5');
    expect(d('0.000').toString()).toBe('0');
    expect(d('100').toString()).toBe('100');
    expect(d('0.000001').toString()).toBe('0.000001');
    expect(d('-0.000001').toString()).toBe('-0.000001');
    expect(d('2.5').toString(2)).toBe('2.50');
    expect(d('1').toString(6)).toBe('1.000000');
    expect(d('0.1234567').toString(2)).toBe('0.1234567');
  });

  it('parses plain decimal text only', () => {
    for (const ok of ['0', '12', '2.50', '-0.000001', '007.10']) expect(Decimal.isValid(ok)).toBe(true);
    for (const bad of ['', 'abc', '1e5', '.5', '5.', '+1', '1,5', ' 1', '0x10', 'NaN']) {
      expect(Decimal.isValid(bad)).toBe(false);
      expect(() => Decimal.parse(bad)).toThrow(RangeError);
    }
    expect(d('007.10').toString()).toBe('7.1');
  });

  it('multiplies, shifts by powers of ten and compares exactly', () => {
    expect(Decimal.fromInteger(700_000).times(d('2.00')).shiftLeft(6).toString()).toBe('1.4');
    expect(Decimal.fromInteger(3).times(d('0.1')).toString()).toBe('0.3');
    expect(d('1').shiftLeft(6).toString()).toBe('0.000001');
    expect(d('1.0').compare(d('1'))).toBe(0);
    expect(d('0.3').compare(d('0.29999999999999999'))).toBe(1);
    expect(d('-1').compare(d('0'))).toBe(-1);
    expect(d('-0.5').isNegative()).toBe(true);
    expect(d('0.000').isZero()).toBe(true);
    expect(() => Decimal.fromInteger(2 ** 53)).toThrow(RangeError);
    expect(Decimal.fromInteger(2n ** 64n).toString()).toBe('18446744073709551616');
  });
});
