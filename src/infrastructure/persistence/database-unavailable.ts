import { DatabaseUnavailableError } from '../../domain/errors';

/** Socket and DNS failures of the connection to the database. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/**
 * What node-postgres, its pool and TypeORM say when the connection is gone or never came:
 * the server closed it (a restart), a connect or a wait for a free connection timed out, or
 * a client that already failed was used again.
 */
const CONNECTION_MESSAGES =
  /Connection terminated|timeout exceeded when trying to connect|not queryable|Query read timeout|Driver not Connected|Cannot use a pool after calling end/i;

/** The error itself and what it wraps (TypeORM's driverError, a cause, an AggregateError's errors). */
function* causes(error: unknown, depth = 0): Generator<unknown> {
  if (error === null || error === undefined || depth > 4) return;
  yield error;
  if (typeof error !== 'object') return;
  const wrapper = error as { driverError?: unknown; cause?: unknown; errors?: unknown };
  yield* causes(wrapper.driverError, depth + 1);
  yield* causes(wrapper.cause, depth + 1);
  if (Array.isArray(wrapper.errors)) for (const inner of wrapper.errors) yield* causes(inner, depth + 1);
}

/**
 * A database failure the caller should retry rather than a bug: the connection class
 * (SQLSTATE 08…, the server shutting down or restarting: 57P01–57P03, too many connections:
 * 53300, socket errors, pool and connect timeouts) and a statement cancelled by its timeout
 * (57014). Anything else is not recognised (null).
 */
export function databaseUnavailable(error: unknown): DatabaseUnavailableError | null {
  for (const cause of causes(error)) {
    if (cause instanceof DatabaseUnavailableError) return cause;
    if (!(cause instanceof Error)) continue;
    const code = (cause as { code?: unknown }).code;
    if (typeof code === 'string') {
      if (code === '57014') return new DatabaseUnavailableError('the database did not answer in time; retry later');
      if (code.startsWith('08') || ['57P01', '57P02', '57P03', '53300'].includes(code) || NETWORK_CODES.has(code)) {
        return new DatabaseUnavailableError();
      }
    }
    if (CONNECTION_MESSAGES.test(cause.message)) return new DatabaseUnavailableError();
  }
  return null;
}

/**
 * Runs a database call and reports its failure as a DatabaseUnavailableError where it is one
 * (the original kept as its `cause`): what the ingest path uses, so that a caller that cannot
 * hand a batch back to a client (the proxy) knows to try it again.
 */
export async function sayingUnavailable<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    const unavailable = databaseUnavailable(error);
    throw unavailable && unavailable !== error ? Object.assign(unavailable, { cause: error }) : error;
  }
}
