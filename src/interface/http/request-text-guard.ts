import type { FastifyRequest } from 'fastify';
import { ValidationError } from '../../domain/errors';

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * The route takes any text in its body, NUL and lone surrogates included, and deals with
     * it itself (refusing a record alone, or forwarding the body untouched). Absent: a body
     * string or key with such text is a 400 before the route's schema or handler sees it.
     */
    acceptsAnyBodyText?: boolean;
  }
}

/** NUL, or half of a surrogate pair: text no database column, log line or client can hold. */
const UNSTORABLE = /[\0\p{Cs}]/u;

/** Whether text holds a NUL or a lone surrogate (a token's claims are checked with it too). */
export const holdsUnstorableText = (text: string): boolean => UNSTORABLE.test(text);

type Part = 'querystring' | 'params' | 'headers';

const MESSAGE = 'must not contain NUL or unpaired surrogate characters';

/** At most this many places are named; a body full of them is refused all the same. */
const MAX_NAMED = 20;

function* offendingNames(part: Part, values: unknown): Generator<{ path: string; message: string }> {
  if (typeof values !== 'object' || values === null) return;
  for (const [name, value] of Object.entries(values)) {
    const texts = Array.isArray(value) ? value : [value];
    if (UNSTORABLE.test(name) || texts.some((text) => typeof text === 'string' && UNSTORABLE.test(text))) {
      // the name itself may be the bad text: show it escaped, never raw
      yield {
        path: `/${part}/${JSON.stringify(name).slice(1, -1)}`,
        message: MESSAGE,
      };
    }
  }
}

/**
 * Runs first on every request: a NUL byte or a lone surrogate in a query parameter, path
 * parameter or header is the caller's mistake, answered 400 with its name, before anything
 * (authentication included) hands it to the database.
 */
export async function rejectUnstorableText(request: FastifyRequest): Promise<void> {
  refuse([
    ...offendingNames('querystring', request.query),
    ...offendingNames('params', request.params),
    ...offendingNames('headers', request.headers),
  ]);
}

function refuse(details: Array<{ path: string; message: string }>): void {
  if (details.length > 0) {
    throw new ValidationError(
      `${details.map((d) => d.path).join(', ')} must not contain NUL or unpaired surrogates`,
      details,
    );
  }
}

/** A key as a JSON Pointer part (as schema errors name body fields), shown as JSON text shows it. */
function pointerPart(key: string): string {
  return JSON.stringify(key.replace(/~/g, '~0').replace(/\//g, '~1')).slice(1, -1);
}

/** What JSON.parse makes, and nothing else (a Buffer body is bytes, not text). */
function isPlainContainer(value: unknown): value is Record<string, unknown> | unknown[] {
  if (typeof value !== 'object' || value === null) return false;
  if (Array.isArray(value)) return true;
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

/**
 * Every string and key of a parsed JSON body holding unstorable text, by its path in the
 * style of schema errors (`/records/0/model`, `/` for the body itself). Walked with a stack of
 * its own: a body nested deeper than the call stack is still walked, never a RangeError.
 */
function offendingBodyPaths(body: unknown): Array<{ path: string; message: string }> {
  const found: Array<{ path: string; message: string }> = [];
  // a key with such text is named by itself, and what it holds is not looked into
  const pending: Array<[value: unknown, path: string, badKey: boolean]> = [[body, '', false]];
  while (pending.length > 0 && found.length < MAX_NAMED) {
    const [value, path, badKey] = pending.pop()!;
    if (badKey || (typeof value === 'string' && UNSTORABLE.test(value))) {
      found.push({ path: path || '/', message: MESSAGE });
    } else if (isPlainContainer(value)) {
      const entries = Array.isArray(value)
        ? value.map((item, i): [string, unknown] => [String(i), item])
        : Object.entries(value);
      // pushed last to first, so that places are named in the order the body has them
      for (let i = entries.length - 1; i >= 0; i--) {
        const [key, item] = entries[i]!;
        pending.push([item, `${path}/${pointerPart(key)}`, UNSTORABLE.test(key)]);
      }
    }
  }
  return found;
}

/**
 * Runs on every request with a body, once it is parsed and before its schema is checked: a NUL
 * or a lone surrogate in any string or key of the body is a 400 naming where it is, before a
 * handler writes anything. A route whose config says `acceptsAnyBodyText` is left to itself.
 */
export async function rejectUnstorableBodyText(request: FastifyRequest): Promise<void> {
  if (request.body === undefined || request.routeOptions.config.acceptsAnyBodyText === true) return;
  refuse(offendingBodyPaths(request.body));
}
