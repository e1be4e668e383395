import { afterEach, describe, expect, it, vi } from 'vitest';
import type * as genaiPrices from '@pydantic/genai-prices';
import { calcPrice } from '@pydantic/genai-prices';
import { packageCatalogMatch } from '../../src/infrastructure/catalog/genai-prices-match';

vi.mock('@pydantic/genai-prices', async (original) => {
  const actual = await original<typeof genaiPrices>();
  return { ...actual, calcPrice: vi.fn(actual.calcPrice) };
});

afterEach(() => vi.restoreAllMocks());

describe('packageCatalogMatch', () => {
  it("maps the ids providers report to the catalog entries @pydantic/genai-prices' own match logic picks", () => {
    const cases: Array<[string, string, string, string]> = [
      ['anthropic', 'claude-sonnet-4-20250514', 'anthropic', 'claude-sonnet-4-0'],
      ['anthropic', 'claude-opus-4-20250514', 'anthropic', 'claude-opus-4-0'],
      ['anthropic', 'claude-3-7-sonnet-20250219', 'anthropic', 'claude-3-7-sonnet-latest'],
      ['anthropic', 'claude-3-5-haiku-20241022', 'anthropic', 'claude-3-5-haiku-latest'],
      [
        'bedrock',
        'us.anthropic.claude-3-haiku-20240307-v1:0',
        'aws',
        'regional.anthropic.claude-3-haiku-20240307-v1:0',
      ],
      ['aws', 'anthropic.claude-3-haiku-20240307-v1:0', 'aws', 'regional.anthropic.claude-3-haiku-20240307-v1:0'],
      [
        'Bedrock',
        'EU.Anthropic.Claude-3-5-Sonnet-20241022-v2:0',
        'aws',
        'regional.anthropic.claude-3-5-sonnet-20241022-v2:0',
      ],
      ['openrouter', 'openai/gpt-4o-2024-08-06', 'openrouter', 'openai/gpt-4o'],
      ['vertex', 'claude-3-5-sonnet-v2@20241022', 'google', 'claude-3-5-sonnet'],
    ];
    for (const [provider, model, toProvider, toModel] of cases) {
      expect(packageCatalogMatch(provider, model), `${provider} ${model}`).toEqual({
        provider: toProvider,
        model: toModel,
      });
    }
  });

  it("names the provider that lists the model when the package found it among a provider's fallbacks", () => {
    // azure lists few models of its own and falls back to openai, anthropic, …; google falls back to anthropic
    expect(packageCatalogMatch('azure-openai', 'gpt-4o-2024-08-06')).toEqual({ provider: 'openai', model: 'gpt-4o' });
    expect(packageCatalogMatch('vertex', 'claude-haiku-4-5@20251001')).toEqual({
      provider: 'anthropic',
      model: 'claude-haiku-4-5',
    });
  });

  it('matches nothing for a provider the package does not know, nor for a model its provider does not list', () => {
    expect(packageCatalogMatch('acmeai', 'claude-sonnet-4-20250514')).toBeUndefined();
    expect(packageCatalogMatch('anthropic', 'no-such-model-7')).toBeUndefined();
    expect(packageCatalogMatch('', 'gpt-4o')).toBeUndefined();
    expect(packageCatalogMatch('openai', '  ')).toBeUndefined();
  });

  it('asks the package once per reported pair, whatever the case and spaces, and fetches nothing', () => {
    const fetch = vi.spyOn(globalThis, 'fetch');
    const calls = vi.mocked(calcPrice).mock.calls.length;
    const first = packageCatalogMatch('anthropic', 'claude-opus-4-1-20250805');
    for (let i = 0; i < 100; i++) {
      expect(packageCatalogMatch(' Anthropic', 'Claude-Opus-4-1-20250805 ')).toEqual(first);
      expect(packageCatalogMatch('anthropic', 'not-a-model-at-all')).toBeUndefined();
    }
    expect(first).toEqual({ provider: 'anthropic', model: expect.stringMatching(/^claude-opus-4-1/) });
    expect(vi.mocked(calcPrice).mock.calls.length - calls).toBe(2);
    expect(fetch).not.toHaveBeenCalled();
  });
});
