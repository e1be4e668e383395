import type { FastifyRequest } from 'fastify';
import { ValidationError } from '../../domain/errors';

/** NUL, or half of a surrogate pair: text no database column, log line or client can hold. */
const UNSTORABLE = /[\0\p{Cs}]/u;

type Part = 'querystring' | 'params' | 'headers';

function* offendingNames(part: Part, values: unknown): Generator<{ path: string; message: string }> {
  if (typeof values !== 'object' || values === null) return;
  for (const [name, value] of Object.entries(values)) {
    const texts = Array.isArray(value) ? value : [value];
    if (UNSTORABLE.test(name) || texts.some((text) => typeof text === 'string' && UNSTORABLE.test(text))) {
      // the name itself may be the bad text: show it escaped, never raw
      yield {
        path: `/${part}/${JSON.stringify(name).slice(1, -1)}`,
        message: 'must not contain NUL or unpaired surrogate characters',
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
  const details = [
    ...offendingNames('querystring', request.query),
    ...offendingNames('params', request.params),
    ...offendingNames('headers', request.headers),
  ];
  if (details.length > 0) {
    throw new ValidationError(
      `${details.map((d) => d.path).join(', ')} must not contain NUL or unpaired surrogates`,
      details,
    );
  }
}
