import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/domain/errors';
import { parseJsonBody } from '../../src/interface/http/json-body';
import { holdsPrototypeKey } from '../support/prototype-keys';

function refusal(text: string): ValidationError {
  try {
    parseJsonBody(text);
  } catch (error) {
    if (error instanceof ValidationError) return error;
    throw error;
  }
  throw new Error(`accepted: ${text}`);
}

describe('JSON body parsing', () => {
  it('names where a "__proto__" key is, also when it is written with escapes', () => {
    expect(refusal('{"records":[{"usage":{"prompt_tokens":{"__proto__":false}}}]}').details).toEqual([
      { path: '/records/0/usage/prompt_tokens/__proto__', message: 'a "__proto__" key is not accepted' },
    ]);
    expect(refusal('{"a":{"\\u005f_proto__":{}}}').details?.[0]?.path).toBe('/a/__proto__');
    expect(refusal('[{"constructor":{"prototype":{"x":1}}}]').details?.[0]?.path).toBe('/0/constructor/prototype');
  });

  it('escapes "/" and "~" in the path as a JSON Pointer does', () => {
    expect(refusal('{"a/b~c":{"__proto__":1}}').details?.[0]?.path).toBe('/a~1b~0c/__proto__');
  });

  it('takes "constructor" as a plain key when it has no prototype', () => {
    expect(parseJsonBody('{"constructor":"x","b":{"constructor":{"name":1}}}')).toEqual({
      constructor: 'x',
      b: { constructor: { name: 1 } },
    });
  });

  it('says why a body is not JSON, and that an empty body is empty', () => {
    expect(() => parseJsonBody('{"records": [')).toThrow(/^the body is not valid JSON: /);
    expect(() => parseJsonBody('')).toThrow(expect.objectContaining({ code: 'FST_ERR_CTP_EMPTY_JSON_BODY' }));
  });

  it('accepts any JSON without prototype keys as JSON.parse reads it, and refuses every one that has them', () => {
    const key = fc.oneof(fc.string({ maxLength: 6 }), fc.constantFrom('__proto__', 'constructor', 'prototype'));
    const json = fc.letrec((tie) => ({
      value: fc.oneof(
        { depthSize: 'small' },
        fc.oneof(fc.string(), fc.integer(), fc.boolean(), fc.constant(null)),
        fc.array(tie('value'), { maxLength: 3 }),
        fc.array(fc.tuple(key, tie('value')), { maxLength: 3 }),
      ),
    })).value;
    // objects are written as text by hand so that "__proto__" becomes an own key
    const text = (value: unknown): string => {
      if (!Array.isArray(value)) return JSON.stringify(value);
      const pairs = value.every((v) => Array.isArray(v) && v.length === 2 && typeof v[0] === 'string');
      if (pairs && value.length > 0) {
        return `{${(value as Array<[string, unknown]>).map(([k, v]) => `${JSON.stringify(k)}:${text(v)}`).join(',')}}`;
      }
      return `[${value.map(text).join(',')}]`;
    };
    fc.assert(
      fc.property(json, (value) => {
        const body = text(value);
        const parsed: unknown = JSON.parse(body);
        if (holdsPrototypeKey(parsed)) expect(refusal(body).details?.length).toBeGreaterThan(0);
        else expect(parseJsonBody(body)).toEqual(parsed);
      }),
      { numRuns: 500 },
    );
  });
});
