import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Decimal } from '../../src/domain/decimal';
import { bearer, createTestApp, type TestApp } from '../support/test-app';

/**
 * A price as clients send it — rates, a long-context tier, daily windows — by property: any
 * body is either stored and listed back exactly (rates as the decimals written, times to the
 * second) or refused with a 400 naming a field under /price, with nothing stored; never a 500.
 */
let t: TestApp;
let admin: Record<string, string>;
let sequence = 0;

beforeAll(async () => {
  t = await createTestApp();
  admin = bearer(t.token('root', { role: 'admin' }));
});
afterAll(async () => t.close());

const decimal = fc
  .tuple(fc.integer({ min: 0, max: 9_999_999 }), fc.integer({ min: 0, max: 12 }))
  .map(([units, scale]) => Decimal.fromUnits(BigInt(units), scale).toString());
const hostile = fc.oneof(
  fc.anything(),
  fc.string(),
  fc.double(),
  fc.integer({ min: -5, max: 5 }),
  fc.constantFrom(1e-7, 2.5, 1e21, -0, 0.1 + 0.2, '1e3', ' 2', '0x10'),
);
const rateValue = fc.oneof({ weight: 6, arbitrary: decimal }, { weight: 1, arbitrary: hostile });
const rates = fc
  .record(
    {
      inputPerMillion: rateValue,
      outputPerMillion: rateValue,
      cachedInputPerMillion: rateValue,
      cacheWritePerMillion: rateValue,
      cacheWrite1hPerMillion: rateValue,
      reasoningPerMillion: rateValue,
    },
    // the required two are sent 9 times in 10: leaving one out is refused like any bad value
    { requiredKeys: [] },
  )
  .chain((r) =>
    fc
      .tuple(fc.integer({ min: 0, max: 9 }), decimal, decimal)
      .map(([dice, input, output]) => (dice === 0 ? r : { inputPerMillion: input, outputPerMillion: output, ...r })),
  );
const two = (max: number) => fc.integer({ min: 0, max }).map((n) => String(n).padStart(2, '0'));
const time = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.tuple(two(23), two(59), fc.option(two(59))).map(([h, m, s]) => `${h}:${m}${s ? `:${s}` : ''}`),
  },
  { weight: 1, arbitrary: hostile },
);
const price = fc.record(
  {
    rates,
    longContext: fc.oneof(
      fc.constant(undefined),
      fc.tuple(fc.oneof(fc.integer({ min: -1, max: 3_000_000_000 }), hostile), rates).map(([above, r]) => ({
        aboveInputTokens: above,
        ...r,
      })),
      hostile,
    ),
    timeOfDay: fc.oneof(
      fc.constant(undefined),
      fc.array(
        fc.tuple(time, time, rates).map(([start, end, r]) => ({ start, end, ...r })),
        { maxLength: 3 },
      ),
      hostile,
    ),
  },
  { requiredKeys: ['rates'] },
);

/** A rate as the list answers it: the decimal written (a JSON number read from its digits, as the service does). */
const exact = (value: unknown) =>
  value === undefined
    ? null
    : (typeof value === 'number' ? Decimal.fromNumber(value) : Decimal.parse(String(value))).toString();
const listedRates = (sent: Record<string, unknown>) => ({
  inputPerMillion: exact(sent.inputPerMillion),
  outputPerMillion: exact(sent.outputPerMillion),
  cachedInputPerMillion: exact(sent.cachedInputPerMillion),
  cacheWritePerMillion: exact(sent.cacheWritePerMillion),
  cacheWrite1hPerMillion: exact(sent.cacheWrite1hPerMillion),
  reasoningPerMillion: exact(sent.reasoningPerMillion),
});
const toSecond = (hhmm: string) => (hhmm.length === 5 ? `${hhmm}:00` : hhmm);

describe('a price sent with any rates, tier and windows', () => {
  it('is stored and listed exactly, or refused at a field under /price with nothing stored', async () => {
    const answers = { 201: 0, 400: 0 };
    await fc.assert(
      fc.asyncProperty(price, async ({ rates: base, longContext, timeOfDay }) => {
        sequence += 1;
        const model = `prop-${sequence}`;
        const sent = {
          effectiveFrom: '2020-01-01T00:00:00Z',
          ...base,
          ...(longContext !== undefined && { longContext }),
          ...(timeOfDay !== undefined && { timeOfDay }),
        };
        const res = await t.app.inject({
          method: 'POST',
          url: '/v1/admin/models',
          headers: admin,
          payload: { provider: 'acmeai', model, price: sent },
        });
        expect([201, 400], res.body).toContain(res.statusCode);
        answers[res.statusCode as 201 | 400] += 1;
        if (res.statusCode === 400) {
          const details = res.json().details as Array<{ path: string }>;
          expect(details.length).toBeGreaterThan(0);
          for (const { path } of details) expect(path).toMatch(/^\/price(\/|$)/);
          expect(await t.db.query(`SELECT 1 FROM models WHERE model = $1`, [model])).toEqual([]);
          return;
        }
        const [stored] = res.json().prices;
        const long = longContext as Record<string, unknown> | undefined;
        const windows = (timeOfDay ?? []) as Array<Record<string, unknown>>;
        expect(stored).toEqual({
          effectiveFrom: '2020-01-01T00:00:00.000Z',
          ...listedRates(base),
          longContext: long ? { aboveInputTokens: long.aboveInputTokens, ...listedRates(long) } : null,
          timeOfDay: windows.map((w) => ({
            start: toSecond(w.start as string),
            end: toSecond(w.end as string),
            ...listedRates(w),
          })),
        });
        const listed = await t.app.inject({ method: 'GET', url: `/v1/admin/models?search=${model}`, headers: admin });
        expect(listed.json().items[0].prices).toEqual([stored]);
      }),
      { numRuns: 150 },
    );
    // both sides were met often enough to mean something
    expect(answers[201]).toBeGreaterThan(10);
    expect(answers[400]).toBeGreaterThan(10);
  });
});
