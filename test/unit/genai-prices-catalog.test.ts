import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Provider } from '@pydantic/genai-prices';
import { describe, it, expect } from 'vitest';
import {
  CATALOG_SOURCE,
  loadBundledCatalog,
  loadGenaiPricesCatalog,
  toDecimalString,
  type SeedModel,
} from '../../src/infrastructure/catalog/genai-prices-catalog';

const DECIMAL = /^\d+(\.\d+)?$/;
const EPOCH = '1970-01-01T00:00:00Z';

const catalog = await loadBundledCatalog();

describe('genai-prices seed catalog (bundled data)', () => {
  const find = (provider: string, model: string): SeedModel => {
    const found = catalog.find((m) => m.provider === provider && m.model === model);
    if (!found) throw new Error(`${provider}/${model} missing from the catalog`);
    return found;
  };

  it('names the package and the version installed', () => {
    const manifest = JSON.parse(
      readFileSync(join('node_modules', '@pydantic', 'genai-prices', 'package.json'), 'utf8'),
    ) as { version: string };
    expect(CATALOG_SOURCE).toEqual({ name: '@pydantic/genai-prices', version: manifest.version });
  });

  it('has many models across the main providers', () => {
    expect(catalog.length).toBeGreaterThan(100);
    const providers = new Set(catalog.map((m) => m.provider));
    for (const id of ['openai', 'anthropic', 'google', 'mistral', 'deepseek']) {
      expect(providers).toContain(id);
    }
  });

  it('prices gpt-4o as the source does', () => {
    expect(find('openai', 'gpt-4o')).toEqual({
      provider: 'openai',
      model: 'gpt-4o',
      kind: 'language',
      prices: [
        {
          effectiveFrom: EPOCH,
          inputPerMillion: '2.5',
          outputPerMillion: '10',
          cachedInputPerMillion: '1.25',
          cacheWritePerMillion: null,
          cacheWrite1hPerMillion: null,
          reasoningPerMillion: null,
          longContext: null,
          timeOfDay: [],
        },
      ],
    });
  });

  it('carries Anthropic cache writes (five-minute and one-hour) and reads', () => {
    const [price] = find('anthropic', 'claude-3-5-sonnet').prices;
    expect(price).toMatchObject({
      inputPerMillion: '3',
      outputPerMillion: '15',
      cachedInputPerMillion: '0.3',
      cacheWritePerMillion: '3.75',
      cacheWrite1hPerMillion: '6',
    });
  });

  it('turns tiered prices into a long-context tier', () => {
    // The source charges 6 / 22.5 above 200k input tokens, every rate doubled or so.
    expect(find('anthropic', 'claude-sonnet-4-5').prices).toEqual([
      expect.objectContaining({
        effectiveFrom: EPOCH,
        inputPerMillion: '3',
        outputPerMillion: '15',
        longContext: {
          aboveInputTokens: 200_000,
          inputPerMillion: '6',
          outputPerMillion: '22.5',
          cachedInputPerMillion: '0.6',
          cacheWritePerMillion: '7.5',
          cacheWrite1hPerMillion: '12',
          reasoningPerMillion: null,
        },
      }),
    ]);
    // "above 271,999" is the source's way of saying 272k and more
    expect(find('openai', 'gpt-5.4').prices.at(-1)?.longContext).toMatchObject({
      aboveInputTokens: 271_999,
      inputPerMillion: '5',
      outputPerMillion: '22.5',
    });
    expect(find('openai', 'gpt-4o').prices[0]?.longContext).toBeNull();
  });

  it('turns start dates into price versions', () => {
    expect(find('openai', 'o3').prices).toEqual([
      expect.objectContaining({
        effectiveFrom: EPOCH,
        inputPerMillion: '10',
        outputPerMillion: '40',
      }),
      expect.objectContaining({
        effectiveFrom: '2025-06-10T00:00:00Z',
        inputPerMillion: '2',
        outputPerMillion: '8',
      }),
    ]);
  });

  it('keeps time-of-day prices as daily windows of the version listed before them', () => {
    // DeepSeek V3: the unconditional price is the off-peak one; 00:30–16:30 UTC costs twice as much
    expect(find('deepseek', 'deepseek-chat').prices).toEqual([
      expect.objectContaining({
        effectiveFrom: EPOCH,
        inputPerMillion: '0.135',
        outputPerMillion: '0.55',
        cachedInputPerMillion: '0.035',
        timeOfDay: [
          expect.objectContaining({
            startSecond: 1_800,
            endSecond: 59_400,
            inputPerMillion: '0.27',
            outputPerMillion: '1.1',
            cachedInputPerMillion: '0.07',
          }),
        ],
      }),
    ]);
    // DeepSeek V4 Flash: one rate before 2026-08-17, then off-peak with two peak windows
    const flash = find('deepseek', 'deepseek-v4-flash').prices;
    expect(flash.map((p) => [p.effectiveFrom, p.timeOfDay.map((w) => [w.startSecond, w.endSecond])])).toEqual([
      [EPOCH, []],
      [
        '2026-08-17T00:00:00Z',
        [
          [3_600, 14_400],
          [21_600, 36_000],
        ],
      ],
    ]);
  });

  it('carries separate reasoning prices', () => {
    expect(find('perplexity', 'sonar-deep-research').prices[0]?.reasoningPerMillion).toBe('3');
  });

  it('drops binary noise in source numbers', () => {
    // The source holds 0.18000000000000002.
    expect(find('huggingface_together', 'qwen/qwen3-vl-8b-instruct').prices[0]?.inputPerMillion).toBe('0.18');
  });

  it('marks embedding models and prices their output at zero', () => {
    expect(find('openai', 'text-embedding-3-small')).toMatchObject({
      kind: 'embedding',
      prices: [{ inputPerMillion: '0.02', outputPerMillion: '0' }],
    });
    expect(find('voyageai', 'voyage-3').kind).toBe('embedding');
    expect(find('openai', 'gpt-4o-mini').kind).toBe('language');
  });

  it('skips models without a token price', () => {
    expect(catalog.some((m) => m.model === 'mistral-ocr-latest')).toBe(false);
  });

  it('writes every price as a plain decimal string', () => {
    for (const { prices } of catalog) {
      for (const price of prices) {
        expect(price.inputPerMillion).toMatch(DECIMAL);
        expect(price.outputPerMillion).toMatch(DECIMAL);
        for (const optional of [
          price.cachedInputPerMillion,
          price.cacheWritePerMillion,
          price.cacheWrite1hPerMillion,
          price.reasoningPerMillion,
        ]) {
          if (optional !== null) expect(optional).toMatch(DECIMAL);
        }
      }
    }
  });

  it('has one lower-case entry per (provider, model)', () => {
    const keys = catalog.map((m) => `${m.provider}/${m.model}`);
    expect(new Set(keys.map((k) => k.toLowerCase())).size).toBe(keys.length);
    for (const key of keys) expect(key).toBe(key.toLowerCase());
  });

  it('has at least one price per model, sorted by effectiveFrom', () => {
    for (const { prices } of catalog) {
      expect(prices.length).toBeGreaterThan(0);
      expect(prices[0]?.effectiveFrom).toBe(EPOCH);
      for (const [i, price] of prices.entries()) {
        expect(price.effectiveFrom).toMatch(/^\d{4}-\d{2}-\d{2}T00:00:00Z$/);
        if (i > 0) expect(price.effectiveFrom > prices[i - 1]!.effectiveFrom).toBe(true);
      }
    }
  });
});

describe('loadGenaiPricesCatalog rules', () => {
  const provider = (id: string, models: Provider['models']): Provider => ({
    id,
    name: id,
    api_pattern: '',
    models,
  });
  const model = (id: string, prices: Provider['models'][number]['prices'], name?: string) => ({
    id,
    name,
    match: { equals: id },
    prices,
  });

  it('applies tiers, conditions, kinds, skips and de-duplication', () => {
    const catalog = loadGenaiPricesCatalog([
      provider('Acme', [
        model('Big-Model', {
          input_mtok: { base: 1, tiers: [{ start: 200_000, price: 2 }] },
          output_mtok: 4,
          cache_write_mtok: 1.25,
          cache_write_1h_mtok: 2,
        }),
        model('big-model', { input_mtok: 9, output_mtok: 9 }),
        model('free-model', {}),
        model('vectors-v1', { input_mtok: 1e-7 }, 'Acme Embed'),
        model('timed', [
          { prices: { input_mtok: 0.5, output_mtok: 1 } },
          {
            constraint: { type: 'start_date', start_date: '2026-01-01' },
            prices: { input_mtok: 1, output_mtok: 2 },
          },
          {
            constraint: { type: 'time_of_date', start_time: '00:00:00Z', end_time: '08:00:00Z' },
            prices: { input_mtok: 3, output_mtok: 3 },
          },
        ]),
      ]),
    ]);

    expect(catalog.map((m) => [m.provider, m.model, m.kind])).toEqual([
      ['acme', 'big-model', 'language'],
      ['acme', 'vectors-v1', 'embedding'],
      ['acme', 'timed', 'language'],
    ]);
    expect(catalog[0]?.prices).toEqual([
      {
        effectiveFrom: EPOCH,
        inputPerMillion: '1',
        outputPerMillion: '4',
        cachedInputPerMillion: null,
        cacheWritePerMillion: '1.25',
        cacheWrite1hPerMillion: '2',
        reasoningPerMillion: null,
        // only the input is tiered: the other rates keep their one value above the threshold
        longContext: {
          aboveInputTokens: 200_000,
          inputPerMillion: '2',
          outputPerMillion: '4',
          cachedInputPerMillion: null,
          cacheWritePerMillion: '1.25',
          cacheWrite1hPerMillion: '2',
          reasoningPerMillion: null,
        },
        timeOfDay: [],
      },
    ]);
    expect(catalog[1]?.prices[0]).toMatchObject({
      inputPerMillion: '0.0000001',
      outputPerMillion: '0',
    });
    // the window belongs to the version listed before it
    expect(catalog[2]?.prices.map((p) => [p.effectiveFrom, p.inputPerMillion, p.timeOfDay])).toEqual([
      [EPOCH, '0.5', []],
      [
        '2026-01-01T00:00:00Z',
        '1',
        [expect.objectContaining({ startSecond: 0, endSecond: 28_800, inputPerMillion: '3' })],
      ],
    ]);
  });
});

describe('loadGenaiPricesCatalog time-of-day entries', () => {
  it('takes the first entry as the fallback version whatever its constraint, as the package does', () => {
    const providers = [
      {
        id: 'acme',
        name: 'acme',
        api_pattern: '',
        models: [
          {
            id: 'odd-first',
            match: { equals: 'odd-first' },
            prices: [
              {
                constraint: { type: 'time_of_date', start_time: '01:00:00Z', end_time: '02:00:00Z' },
                prices: { input_mtok: 1, output_mtok: 1 },
              },
              {
                constraint: { type: 'time_of_date', start_time: '03:00:00Z', end_time: '04:00:00Z' },
                prices: { input_mtok: 2, output_mtok: 2 },
              },
            ],
          },
        ],
      },
    ];
    const [model] = loadGenaiPricesCatalog(providers as unknown as Provider[]);
    expect(
      model?.prices.map((p) => [p.effectiveFrom, p.inputPerMillion, p.timeOfDay.map((w) => w.startSecond)]),
    ).toEqual([[EPOCH, '1', [10_800]]]);
  });
});

describe('loadGenaiPricesCatalog tiers it cannot express', () => {
  it.each([
    [
      'two tiers',
      {
        input_mtok: {
          base: 1,
          tiers: [
            { start: 100, price: 2 },
            { start: 200, price: 3 },
          ],
        },
        output_mtok: 1,
      },
    ],
    [
      'rates tiered at different thresholds',
      {
        input_mtok: { base: 1, tiers: [{ start: 100, price: 2 }] },
        output_mtok: { base: 1, tiers: [{ start: 200, price: 2 }] },
      },
    ],
  ])('refuses %s rather than undercharge long calls', (_name, prices) => {
    const providers = [
      { id: 'acme', name: 'acme', api_pattern: '', models: [{ id: 'odd', match: { equals: 'odd' }, prices }] },
    ];
    expect(() => loadGenaiPricesCatalog(providers as unknown as Provider[])).toThrow(
      /unsupported price tiers for model 'odd'/,
    );
  });
});

describe('toDecimalString', () => {
  it.each([
    [0, '0'],
    [10, '10'],
    [2.5, '2.5'],
    [0.0028, '0.0028'],
    [1e-7, '0.0000001'],
    [1.5e-10, '0.00000000015'],
    [1e21, '1000000000000000000000'],
    [0.18000000000000002, '0.18'],
  ])('writes %s as %s', (value, text) => {
    expect(toDecimalString(value)).toBe(text);
  });

  it('rejects values that are not prices', () => {
    expect(() => toDecimalString(-1)).toThrow(RangeError);
    expect(() => toDecimalString(Number.NaN)).toThrow(RangeError);
  });
});
