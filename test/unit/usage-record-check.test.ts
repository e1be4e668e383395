import AjvCompiler from '@fastify/ajv-compiler';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { describe, expect, it } from 'vitest';
import { checkRecord } from '../../src/interface/http/routes/usage-record-check';
import {
  USAGE_RECORD_SCHEMAS,
  UsageRecordInput,
  UsageRecordItem,
} from '../../src/interface/http/routes/usage-records.schemas';

/** The documented schema, compiled as it is: checkRecord must accept exactly what it accepts. */
const documented = TypeCompiler.Compile(UsageRecordInput);

const valid = {
  requestId: 'req-1',
  occurredAt: '2026-11-20T14:03:07.120Z',
  userId: 'alice',
  provider: 'openai',
  model: 'gpt-4o',
  inputTokens: 1200,
  outputTokens: 300,
  metadata: { feature: 'summaries' },
};

const variants: Array<[name: string, record: unknown]> = [
  ['valid', valid],
  ['no optional fields', { requestId: 'r', provider: 'p', model: 'm', inputTokens: 0, outputTokens: 0 }],
  ['an unknown field', { ...valid, extra: 1 }],
  ['a field named like a prototype member', { ...valid, toString: 'x' }],
  ['metadata as an array', { ...valid, metadata: [1] }],
  ['metadata null', { ...valid, metadata: null }],
  ['metadata a string', { ...valid, metadata: 'x' }],
  ['nested metadata', { ...valid, metadata: { a: { b: [1, { c: null }] } } }],
  ['occurredAt with an offset', { ...valid, occurredAt: '2026-11-20T19:33:07+05:30' }],
  ['occurredAt in lower case', { ...valid, occurredAt: '2026-11-20t14:03:07z' }],
  ['occurredAt with a space', { ...valid, occurredAt: '2026-11-20 14:03:07Z' }],
  ['occurredAt without a zone', { ...valid, occurredAt: '2026-11-20T14:03:07' }],
  ['occurredAt on a day that does not exist', { ...valid, occurredAt: '2026-02-30T00:00:00Z' }],
  ['occurredAt at hour 25', { ...valid, occurredAt: '2026-11-20T25:00:00Z' }],
  ['occurredAt a number', { ...valid, occurredAt: 1_795_183_387_120 }],
  ['occurredAt null', { ...valid, occurredAt: null }],
  ['a blank provider', { ...valid, provider: '   ' }],
  ['negative tokens', { ...valid, inputTokens: -1 }],
  ['fractional tokens', { ...valid, outputTokens: 1.5 }],
  ['cost as a number', { ...valid, cost: 0.004215 }],
  ['cost as a string', { ...valid, cost: '0.004215' }],
  ['cost with an exponent', { ...valid, cost: '1e-7' }],
  ['no requestId', { ...valid, requestId: undefined }],
  ['not an object', 'x'],
  ['null', null],
  ['an array', [valid]],
];

describe('checkRecord', () => {
  it.each(variants)('accepts exactly what the documented schema accepts: %s', (_name, record) => {
    const result = checkRecord(record);
    expect('errors' in result).toBe(!documented.Check(record));
  });

  it('gives the draft the instant occurredAt names, and the cost as decimal text', () => {
    const draft = checkRecord({ ...valid, occurredAt: '2026-11-20T19:33:07.5+05:30', cost: 0.1 });
    expect(draft).toMatchObject({ occurredAt: new Date('2026-11-20T14:03:07.500Z'), cost: '0.1' });
    expect(checkRecord({ ...valid, occurredAt: undefined })).toMatchObject({ occurredAt: undefined });
  });

  it('takes a cost as a JSON number only when it is the decimal that was written', () => {
    expect(checkRecord({ ...valid, cost: 123456.789012345 })).toMatchObject({ cost: '123456.789012345' });
    expect(checkRecord({ ...valid, cost: 999_999_999 })).toMatchObject({ cost: '999999999' });
    expect(checkRecord({ ...valid, cost: 1e-18 })).toMatchObject({ cost: '0.000000000000000001' });
    for (const inexact of [0.1 + 0.2, 1e-19, 1 / 3]) {
      expect(checkRecord({ ...valid, cost: inexact })).toEqual({
        requestId: 'req-1',
        errors: [{ path: '/cost', message: expect.stringContaining('send it as a decimal string') as string }],
      });
    }
  });

  it('names every field that holds a NUL character, metadata keys and nested values included', () => {
    expect(checkRecord({ ...valid, requestId: 'a\u0000b', metadata: { nested: ['ok', 'x\u0000'] } })).toEqual({
      requestId: 'a\u0000b',
      errors: [
        { path: '/requestId', message: 'must not contain the NUL character (U+0000)' },
        { path: '/metadata', message: 'must not contain the NUL character (U+0000)' },
      ],
    });
    expect(checkRecord({ ...valid, metadata: { 'k\u0000': 1 } })).toMatchObject({ errors: [{ path: '/metadata' }] });
    expect(checkRecord({ ...valid, error: '\u0000' })).toMatchObject({ errors: [{ path: '/error' }] });
  });

  it('keeps a backslash followed by "u0000", which is no NUL character', () => {
    const record = { ...valid, metadata: { note: '\\u0000', [`\\u0000`]: 'key' } };
    expect(checkRecord(record)).toMatchObject({ metadata: record.metadata });
  });

  it('rejects metadata over 8 KB of JSON, counted in UTF-8 bytes', () => {
    expect(checkRecord({ ...valid, metadata: { note: 'x'.repeat(8180) } })).toMatchObject({ requestId: 'req-1' });
    expect(checkRecord({ ...valid, metadata: { note: 'x'.repeat(8190) } })).toEqual({
      requestId: 'req-1',
      errors: [{ path: '/metadata', message: 'metadata must be at most 8192 bytes of JSON' }],
    });
    expect(checkRecord({ ...valid, metadata: { note: 'ü'.repeat(4095) } })).toMatchObject({
      errors: [{ path: '/metadata' }],
    });
  });
});

/**
 * Every documented form of a record (our fields, a provider usage object, a provider
 * response, the seed-era names), as fastify's own validator (ajv) reads the document's union.
 */
const documentedForms = AjvCompiler()(Object.fromEntries(USAGE_RECORD_SCHEMAS.map((schema) => [schema.$id!, schema])), {
  // as documented: nothing removed or coerced to make a record fit
  customOptions: { removeAdditional: false, coerceTypes: false },
} as never)({ schema: UsageRecordItem, method: 'POST', url: '/', httpPart: 'body' } as never) as (
  value: unknown,
) => boolean;

const call = { requestId: 'req-2', provider: 'openai', model: 'gpt-4o' };
const chatUsage = { prompt_tokens: 10, completion_tokens: 2, total_tokens: 12 };
const chatResponse = { id: 'chatcmpl-1', object: 'chat.completion', model: 'gpt-4o', choices: [], usage: chatUsage };

const forms: Array<[name: string, record: unknown]> = [
  ['a usage object', { ...call, usage: chatUsage }],
  ['a usage object with its format', { ...call, usage: chatUsage, usageFormat: 'openai.chat' }],
  ['a usage object with nulls', { ...call, usage: { ...chatUsage, prompt_tokens_details: null } }],
  ['an unknown usageFormat', { ...call, usage: chatUsage, usageFormat: 'openai' }],
  ['a usage object without a model', { requestId: 'r', provider: 'openai', usage: chatUsage }],
  ['a usage object and our fields', { ...call, usage: chatUsage, inputTokens: 10, outputTokens: 2 }],
  ['a usage object and a response', { ...call, usage: chatUsage, response: chatResponse }],
  ['a usage object that is text', { ...call, usage: 'ten' }],
  ['a response alone', { response: chatResponse }],
  ['a response with fields of the record', { ...call, userId: 'alice', response: chatResponse }],
  ['a whole stream', { response: [chatResponse] }],
  ['a response that is text', { response: 'ok' }],
  ['an empty stream', { response: [] }],
  ['a response and a seed-era name', { response: chatResponse, promptTokens: 1 }],
  ['promptTokens and completionTokens', { ...call, promptTokens: 10, completionTokens: 2 }],
  [
    'prompt_tokens and completion_tokens with parts',
    { ...call, prompt_tokens: 10, completion_tokens: 2, cachedInputTokens: 4 },
  ],
  ['a seed-era name beside ours', { ...call, inputTokens: 10, outputTokens: 2, promptTokens: 10 }],
  ['two seed-era pairs mixed', { ...call, promptTokens: 10, completion_tokens: 2 }],
  ['half a seed-era pair', { ...call, promptTokens: 10 }],
  ['a usageFormat without usage', { ...call, inputTokens: 1, outputTokens: 1, usageFormat: 'openai.chat' }],
];

describe('checkRecord on the other forms of a record', () => {
  it.each(forms)('accepts exactly what the documented union accepts: %s', (_name, record) => {
    expect('errors' in checkRecord(record)).toBe(!documentedForms(record));
  });

  it('takes the tokens, request id and model from a response, and our names from their seed-era ones', () => {
    expect(checkRecord({ response: chatResponse })).toMatchObject({
      requestId: 'chatcmpl-1',
      provider: 'openai',
      model: 'gpt-4o',
      inputTokens: 10,
      outputTokens: 2,
    });
    expect(checkRecord({ ...call, prompt_tokens: 10, completion_tokens: 2 })).toMatchObject({
      inputTokens: 10,
      outputTokens: 2,
    });
  });
});
