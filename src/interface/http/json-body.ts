import { errorCodes, type FastifyInstance } from 'fastify';
import { ValidationError } from '../../domain/errors';
import { MAX_JSON_DEPTH, nestsDeeperThan } from './json-depth';
import { exactMoneyNumbers } from './json-money';

/**
 * Keys that reach an object's prototype when code merges or copies the parsed body. Also
 * written with escapes (`\u005f_proto__`), so the cheap text test below only decides
 * whether the walk is needed.
 */
const MAYBE_FORBIDDEN = /__proto__|constructor|\\u/;

function pointerPart(key: string): string {
  // JSON Pointer escaping; the key is shown as JSON text would show it
  return JSON.stringify(key.replace(/~/g, '~0').replace(/\//g, '~1')).slice(1, -1);
}

function* forbiddenKeys(value: unknown, path: string): Generator<{ path: string; message: string }> {
  if (typeof value !== 'object' || value === null) return;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) yield* forbiddenKeys(value[i], `${path}/${i}`);
    return;
  }
  if (Object.hasOwn(value, '__proto__')) {
    yield { path: `${path}/__proto__`, message: 'a "__proto__" key is not accepted' };
  }
  const record = value as Record<string, unknown>;
  const ctor = Object.hasOwn(value, 'constructor') ? record.constructor : undefined;
  if (typeof ctor === 'object' && ctor !== null && Object.hasOwn(ctor, 'prototype')) {
    yield { path: `${path}/constructor/prototype`, message: 'a "constructor.prototype" key is not accepted' };
  }
  for (const key of Object.keys(record)) {
    if (key !== '__proto__') yield* forbiddenKeys(record[key], `${path}/${pointerPart(key)}`);
  }
}

/**
 * Parses a JSON body; a key that could reach a prototype is a 400 naming where it is. Numbers
 * under a money key keep every digit (json-money.ts).
 */
export function parseJsonBody(text: string): unknown {
  if (text.length === 0) throw new errorCodes.FST_ERR_CTP_EMPTY_JSON_BODY();
  let body: unknown;
  try {
    // money written as a JSON number is read from its digits, never through a double
    body = JSON.parse(exactMoneyNumbers(text));
  } catch (error) {
    const invalid = new errorCodes.FST_ERR_CTP_INVALID_JSON_BODY();
    invalid.message = `the body is not valid JSON: ${(error as Error).message}`;
    throw invalid;
  }
  refuseDeepNesting(text);
  if (!MAYBE_FORBIDDEN.test(text)) return body;
  const details = [...forbiddenKeys(body, '')];
  if (details.length > 0) {
    throw new ValidationError(`${details.map((d) => d.path).join(', ')}: prototype keys are not accepted`, details);
  }
  return body;
}

/** A body nested deeper than MAX_JSON_DEPTH is a 400 before anything walks it (json-depth.ts). */
export function refuseDeepNesting(text: string): void {
  if (nestsDeeperThan(text)) {
    throw new ValidationError(`the body nests arrays and objects deeper than ${MAX_JSON_DEPTH} levels`, [
      { path: '/', message: `must not nest deeper than ${MAX_JSON_DEPTH} levels` },
    ]);
  }
}

/**
 * Replaces fastify's JSON parser, which answers a `__proto__` key with "Body is not valid
 * JSON" and no place: the body is valid JSON, the key is refused, and the caller is told
 * where it is.
 */
export function registerJsonBodyParser(app: FastifyInstance): void {
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, text, done) => {
    try {
      done(null, parseJsonBody(text as string));
    } catch (error) {
      done(error as Error, undefined);
    }
  });
}
