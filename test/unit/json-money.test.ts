import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Decimal } from '../../src/domain/decimal';
import { parseJsonBody } from '../../src/interface/http/json-body';
import { exactMoneyNumbers, MONEY_KEYS } from '../../src/interface/http/json-money';

/** A number literal as a client may write it: up to 30 significant digits, a point, an exponent. */
const literal = fc
  .tuple(
    fc.boolean(),
    fc
      .tuple(fc.integer({ min: 1, max: 9 }), fc.array(fc.integer({ min: 0, max: 9 }), { maxLength: 29, size: 'max' }))
      .map(([first, rest]) => `${first}${rest.join('')}`),
    fc.nat({ max: 30 }),
    fc.option(fc.integer({ min: -30, max: 30 }), { nil: undefined }),
  )
  .map(([negative, digits, point, exponent]) => {
    const at = Math.min(point, digits.length - 1);
    const mantissa = at === 0 ? digits : `${digits.slice(0, digits.length - at)}.${digits.slice(digits.length - at)}`;
    return `${negative ? '-' : ''}${mantissa}${exponent === undefined ? '' : `e${exponent}`}`;
  });

const exactOf = (value: unknown): string =>
  (typeof value === 'number' ? Decimal.fromNumber(value) : Decimal.parse(value as string)).toString();

describe('money in a JSON body', () => {
  it('reads a cost and a price from the digits written, never through a double', () => {
    const body = parseJsonBody(
      '{"records":[{"requestId":"12345678901234567","cost":0.30000000000000001,"inputTokens":12}],' +
        '"price":{"inputPerMillion":12345.123456789012,"outputPerMillion":8}}',
    ) as { records: Array<Record<string, unknown>>; price: Record<string, unknown> };
    expect(body.records[0]).toEqual({ requestId: '12345678901234567', cost: '0.30000000000000001', inputTokens: 12 });
    expect(body.price).toEqual({ inputPerMillion: '12345.123456789012', outputPerMillion: '8' });
  });

  it('leaves metadata and a provider’s own objects as they came, and text without long numbers untouched', () => {
    const text =
      '{"records":[{"cost":1.00000000000000001,"metadata":{"cost":1.00000000000000001,"x":[{"cost":2}]},' +
      '"usage":{"cost":0.12345678901234567}}]}';
    const body = parseJsonBody(text) as { records: Array<Record<string, Record<string, unknown>>> };
    expect(body.records[0]!.cost).toBe('1.00000000000000001');
    expect(body.records[0]!.metadata).toEqual({ cost: 1, x: [{ cost: 2 }] });
    expect(body.records[0]!.usage).toEqual(JSON.parse('{"cost":0.12345678901234567}'));
    const plain = '{"records":[{"cost":0.004215,"requestId":"a"}]}';
    expect(exactMoneyNumbers(plain)).toBe(plain);
  });

  it('keeps every digit of any money number, whether or not a double could hold it (property)', () => {
    fc.assert(
      fc.property(literal, fc.constantFrom(...MONEY_KEYS), fc.boolean(), (value, key, long) => {
        // a long id elsewhere sends even a short number the slow way
        const text = `{"id":${long ? '"12345678901234567"' : '"a"'},"x":{${JSON.stringify(key)}:${value}},"n":${value}}`;
        const body = parseJsonBody(text) as { x: Record<string, unknown>; n: unknown };
        expect(exactOf(body.x[key])).toBe(Decimal.fromLiteral(value).toString());
        expect(body.n).toBe(JSON.parse(value));
      }),
      { numRuns: 2000 },
    );
  });

  it('changes nothing else in any JSON (property)', () => {
    fc.assert(
      fc.property(fc.json(), (json) => {
        fc.pre(![...MONEY_KEYS].some((key) => json.includes(key)));
        // a 17-digit number first, so the text is looked at closely
        const text = `{"pad":12345678901234567,"v":${json}}`;
        expect(JSON.parse(exactMoneyNumbers(text))).toEqual(JSON.parse(text));
      }),
      { numRuns: 2000 },
    );
  });

  it('refuses an exponent no amount of money has, without building its digits', () => {
    expect(() => Decimal.fromLiteral('1e999999999')).toThrow(RangeError);
    const body = parseJsonBody('{"cost":1e999999999,"id":"12345678901234567"}') as { cost: unknown };
    expect(body.cost).toBe(Number.POSITIVE_INFINITY);
  });
});
