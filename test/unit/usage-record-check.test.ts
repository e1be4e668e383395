import { TypeCompiler } from '@sinclair/typebox/compiler';
import { describe, expect, it } from 'vitest';
import { checkRecord } from '../../src/interface/http/routes/usage-record-check';
import { UsageRecordInput } from '../../src/interface/http/routes/usage-records.schemas';

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
