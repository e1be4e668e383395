import { describe, expect, it } from 'vitest';
import { modelLookupKeys, normalizeProvider } from '../../src/domain/model-name';

describe('modelLookupKeys', () => {
  it('tries the exact (lower-cased) name first', () => {
    expect(modelLookupKeys('gpt-4o')).toEqual(['gpt-4o']);
    expect(modelLookupKeys('gpt-4o-2024-08-06')[0]).toBe('gpt-4o-2024-08-06');
  });

  it('falls back from an OpenAI dated snapshot to its family', () => {
    expect(modelLookupKeys('gpt-4o-2024-08-06')).toEqual(['gpt-4o-2024-08-06', 'gpt-4o']);
  });

  it('ignores case and surrounding blanks', () => {
    expect(modelLookupKeys('GPT-4o-2024-08-06')).toEqual(['gpt-4o-2024-08-06', 'gpt-4o']);
    expect(modelLookupKeys('  Claude-3-5-Sonnet-20241022 ')).toContain('claude-3-5-sonnet');
  });

  it('strips an Anthropic date suffix', () => {
    expect(modelLookupKeys('claude-3-5-sonnet-20241022')).toEqual(['claude-3-5-sonnet-20241022', 'claude-3-5-sonnet']);
  });

  it('strips Bedrock region, vendor and version parts', () => {
    const keys = modelLookupKeys('us.anthropic.claude-3-haiku-20240307-v1:0');
    expect(keys[0]).toBe('us.anthropic.claude-3-haiku-20240307-v1:0');
    expect(keys).toContain('anthropic.claude-3-haiku-20240307-v1:0');
    expect(keys).toContain('claude-3-haiku-20240307');
    expect(keys.at(-1)).toBe('claude-3-haiku');
    expect(modelLookupKeys('EU.Anthropic.Claude-3-Haiku-20240307-v1:0').at(-1)).toBe('claude-3-haiku');
  });

  it('tries a cross-region Bedrock id without its region but with its vendor (as Bedrock catalogs list it)', () => {
    expect(modelLookupKeys('us.amazon.nova-lite-v1:0')).toEqual([
      'us.amazon.nova-lite-v1:0',
      'amazon.nova-lite-v1:0',
      'nova-lite-v1:0',
      'nova-lite',
    ]);
    expect(modelLookupKeys('amazon.nova-lite-v1:0')[0]).toBe('amazon.nova-lite-v1:0');
  });

  it('strips path prefixes and release tags', () => {
    expect(modelLookupKeys('models/gemini-1.5-pro-002')).toEqual([
      'models/gemini-1.5-pro-002',
      'gemini-1.5-pro-002',
      'gemini-1.5-pro',
    ]);
    expect(modelLookupKeys('mistral-large-latest').at(-1)).toBe('mistral-large');
    expect(modelLookupKeys('gpt-4-0613').at(-1)).toBe('gpt-4');
  });

  it('does not strip a numeric part that is not a date', () => {
    // "-4096" is no MMDD date; a model called that must not become another model
    expect(modelLookupKeys('some-model-4096')).toEqual(['some-model-4096']);
    expect(modelLookupKeys('gpt-3.5-turbo-16k')).toEqual(['gpt-3.5-turbo-16k']);
  });

  it('has no duplicate keys', () => {
    for (const name of [
      'gpt-4o',
      'GPT-4O',
      'claude-3-5-sonnet-20241022',
      'us.anthropic.claude-3-haiku-20240307-v1:0',
    ]) {
      const keys = modelLookupKeys(name);
      expect(new Set(keys).size).toBe(keys.length);
    }
  });
});

describe('normalizeProvider', () => {
  it('lower-cases and maps aliases', () => {
    expect(normalizeProvider(' OpenAI ')).toBe('openai');
    expect(normalizeProvider('gemini')).toBe('google');
    expect(normalizeProvider('Bedrock')).toBe('aws');
    expect(normalizeProvider('acmeai')).toBe('acmeai');
  });
});
