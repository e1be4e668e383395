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
import { databaseUnavailable } from '../../infrastructure/persistence/database-unavailable';

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
      const cause = (error as { cause?: unknown }).cause;
      request.log.warn(
        { code: body.code, cause: cause instanceof Error ? cause.message : error.message },
        'request failed: database unavailable',
      );
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
