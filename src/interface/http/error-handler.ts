import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  ConflictError,
  DomainError,
  ForbiddenError,
  NotFoundError,
  UnauthorizedError,
  ValidationError,
} from '../../domain/errors';

interface ErrorBody {
  statusCode: number;
  code: string;
  message: string;
  details?: ReadonlyArray<{ path: string; message: string }>;
}

function statusOf(error: DomainError): number {
  if (error instanceof ValidationError) return 400;
  if (error instanceof UnauthorizedError) return 401;
  if (error instanceof ForbiddenError) return 403;
  if (error instanceof NotFoundError) return 404;
  if (error instanceof ConflictError) return 409;
  return 400;
}

const FASTIFY_CODES: Record<string, string> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'invalid_json',
  FST_ERR_CTP_INVALID_JSON_BODY: 'invalid_json',
};

/** Maps every error to one shape: domain errors by kind, schema failures with field paths. */
export function toErrorBody(error: FastifyError | DomainError | Error): ErrorBody {
  if (error instanceof DomainError) {
    return { statusCode: statusOf(error), code: error.code, message: error.message, details: error.details };
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
      code: FASTIFY_CODES[fastifyError.code] ?? (status === 401 ? 'unauthorized' : 'bad_request'),
      message: fastifyError.message,
    };
  }
  return { statusCode: 500, code: 'internal_error', message: 'internal error' };
}

export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    const body = toErrorBody(error);
    if (body.statusCode >= 500) request.log.error({ err: error }, 'request failed');
    return reply.status(body.statusCode).send(body);
  });
  app.setNotFoundHandler((request, reply) =>
    reply
      .status(404)
      .send({ statusCode: 404, code: 'not_found', message: `no route ${request.method} ${request.url}` }),
  );
}
