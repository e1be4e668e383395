import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  ConflictError,
  DatabaseUnavailableError,
  DomainError,
  ForbiddenError,
  LimitReachedError,
  NotFoundError,
  UnauthorizedError,
  ValidationError,
} from '../../domain/errors';

interface ErrorBody {
  statusCode: number;
  code: string;
  message: string;
  details?: ReadonlyArray<{ path: string; message: string }>;
  resetsAt?: string;
}

function statusOf(error: DomainError): number {
  if (error instanceof ValidationError) return 400;
  if (error instanceof UnauthorizedError) return 401;
  if (error instanceof ForbiddenError) return 403;
  if (error instanceof NotFoundError) return 404;
  if (error instanceof ConflictError) return 409;
  if (error instanceof DatabaseUnavailableError) return 503;
  if (error instanceof LimitReachedError) return 429;
  return 400;
}

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

const FASTIFY_CODES: Record<string, string> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'invalid_json',
  FST_ERR_CTP_INVALID_JSON_BODY: 'invalid_json',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'invalid_content_length',
  FST_ERR_CTP_INVALID_CONTENT_TYPE: 'unsupported_media_type',
};

/** Maps every error to one shape: domain errors by kind, schema failures with field paths. */
export function toErrorBody(error: FastifyError | DomainError | Error): ErrorBody {
  const unavailable = error instanceof DomainError ? null : databaseUnavailable(error);
  if (unavailable) return toErrorBody(unavailable);
  if (error instanceof DomainError) {
    const resetsAt = error instanceof LimitReachedError ? error.resetsAt?.toISOString() : undefined;
    return {
      statusCode: statusOf(error),
      code: error.code,
      message: error.message,
      details: error.details,
      ...(resetsAt ? { resetsAt } : {}),
    };
  }
  const fastifyError = error as FastifyError;
  if (fastifyError.validation) {
    const context = fastifyError.validationContext ?? 'request';
    const details = fastifyError.validation.map((issue) => {
      const missing = (issue.params as { missingProperty?: string }).missingProperty;
      const extra = (issue.params as { additionalProperty?: string }).additionalProperty;
      const path = `${issue.instancePath}${missing ? `/${missing}` : extra ? `/${extra}` : ''}` || '/';
      return { path: `${context === 'body' ? '' : `/${context}`}${path}`, message: issue.message ?? 'is invalid' };
    });
    return { statusCode: 400, code: 'validation_failed', message: fastifyError.message, details };
  }
  const status = fastifyError.statusCode;
  if (status !== undefined && status >= 400 && status < 500) {
    return {
      statusCode: status,
      code:
        FASTIFY_CODES[fastifyError.code] ??
        // our own refusals raised inside fastify's pipeline carry their code already
        (/^[a-z][a-z_]+$/.test(fastifyError.code ?? '') ? fastifyError.code : undefined) ??
        (status === 401 ? 'unauthorized' : 'bad_request'),
      message: fastifyError.message,
    };
  }
  return { statusCode: 500, code: 'internal_error', message: 'internal error' };
}

export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    const body = toErrorBody(error);
    if (body.statusCode === 503) {
      // the database is away: one line per request, not a stack; the client is told when to retry
      request.log.warn({ code: body.code, cause: error.message }, 'request failed: database unavailable');
      const retryAfter = (databaseUnavailable(error) ?? new DatabaseUnavailableError()).retryAfterSeconds;
      reply.header('retry-after', String(retryAfter));
    } else if (body.statusCode >= 500) request.log.error({ err: error }, 'request failed');
    if (error instanceof LimitReachedError) reply.header('retry-after', String(error.retryAfterSeconds));
    return reply.status(body.statusCode).send(body);
  });
  app.setNotFoundHandler((request, reply) =>
    reply
      .status(404)
      .send({ statusCode: 404, code: 'not_found', message: `no route ${request.method} ${request.url}` }),
  );
}
