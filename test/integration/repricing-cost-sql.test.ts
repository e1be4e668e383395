import { createTestApp, type TestApp } from '../support/test-app';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { computeCost } from '../../src/domain/cost';
import { Decimal } from '../../src/domain/decimal';
import { SECONDS_PER_DAY, type PriceVersion } from '../../src/domain/model-price';
import { pricedStretches } from '../../src/application/use-cases/reprice-usage';
import {
  COST_OF_RECORD,
  STRETCH_COLUMNS,
  STRETCH_OF_RECORD,
  stretchRecord,
} from '../../src/infrastructure/persistence/pg-repricing';

/** Re-pricing prices in SQL what ingest prices in TypeScript: the two must agree to the last digit. */
let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => t.close());

const rate = fc
  .tuple(fc.integer({ min: 0, max: 9_999_999 }), fc.integer({ min: 0, max: 12 }))
  .map(([units, scale]) => Decimal.fromUnits(BigInt(units), scale));

const rates = fc.record({
  inputPerMillion: rate,
  outputPerMillion: rate,
  cachedInputPerMillion: fc.option(rate),
  cacheWritePerMillion: fc.option(rate),
  cacheWrite1hPerMillion: fc.option(rate),
  reasoningPerMillion: fc.option(rate),
});
const second = fc.integer({ min: 0, max: SECONDS_PER_DAY - 1 });
const window = fc
  .tuple(second, second, rates)
  .filter(([start, end]) => start !== end)
  .map(([startSecond, endSecond, r]) => ({ startSecond, endSecond, ...r }));

describe('COST_OF_RECORD', () => {
  it('equals costAt for any tokens, time and price version, with or without a long-context tier and windows', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          input: fc.integer({ min: 0, max: 2_000_000_000 }),
          cached: fc.integer({ min: 0, max: 1_000_000_000 }),
          write: fc.integer({ min: 0, max: 1_000_000_000 }),
          write1h: fc.integer({ min: 0, max: 1_000_000_000 }),
          output: fc.integer({ min: 0, max: 2_000_000_000 }),
          reasoning: fc.integer({ min: 0, max: 2_000_000_000 }),
        }),
        rates,
        // thresholds around the call's input, so that both sides (and the edge) are met
        fc.option(fc.tuple(rates, fc.integer({ min: -2, max: 2 }), fc.boolean())),
        fc.array(window, { maxLength: 3 }),
        // any millisecond of a day, and often one at the edge of a window
        fc.oneof(fc.integer({ min: 0, max: 86_399_999 }), fc.constantFrom(0, 999, 1_000, 86_399_999)),
        async (tokens, base, tier, timeOfDay, millisecond) => {
          const usage = {
            inputTokens: tokens.input + tokens.cached + tokens.write + tokens.write1h,
            cachedInputTokens: tokens.cached,
            cacheWriteTokens: tokens.write + tokens.write1h,
            cacheWrite1hTokens: tokens.write1h,
            outputTokens: tokens.output + tokens.reasoning,
            reasoningTokens: tokens.reasoning,
          };
          const [tierRates, offset, nearInput] = tier ?? [];
          const above = Math.max(1, (nearInput ? usage.inputTokens : 200_000) + (offset ?? 0));
          const price: PriceVersion = {
            effectiveFrom: new Date(0),
            ...base,
            longContext: tierRates ? { aboveInputTokens: above, ...tierRates } : null,
            timeOfDay,
          };
          // a window's edge, now and then, to the second
          const edge = timeOfDay[0] && millisecond % 3 === 0 ? timeOfDay[0].startSecond * 1000 : millisecond;
          const at = new Date(Date.UTC(2026, 10, 3) + edge);
          // the stretches as re-pricing sends them, and the one the record falls in as it finds it
          const stretches = pricedStretches({ provider: 'p', model: 'm' }, [[price]]).map(stretchRecord);
          const rows = (await t.db.query(
            `SELECT (${COST_OF_RECORD})::text AS cost
             FROM (SELECT 'p'::text AS provider, 'm'::text AS model, $1::timestamptz AS occurred_at,
                          $2::bigint AS input_tokens, $3::bigint AS cached_input_tokens, $4::bigint AS cache_write_tokens,
                          $5::bigint AS cache_write_1h_tokens, $6::bigint AS output_tokens,
                          $7::bigint AS reasoning_tokens) r
             JOIN json_to_recordset($8::json) AS s(${STRETCH_COLUMNS}) ON ${STRETCH_OF_RECORD}`,
            [
              at.toISOString(),
              usage.inputTokens,
              usage.cachedInputTokens,
              usage.cacheWriteTokens,
              usage.cacheWrite1hTokens,
              usage.outputTokens,
              usage.reasoningTokens,
              JSON.stringify(stretches),
            ],
          )) as Array<{ cost: string }>;
          expect(rows.map((row) => row.cost)).toEqual([computeCost(usage, price, at).toString()]);
        },
      ),
      { numRuns: 300 },
    );
  });
});
