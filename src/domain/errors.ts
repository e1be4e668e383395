/** Errors that carry meaning for the caller; the HTTP layer maps each kind to one status. */
export class DomainError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly details?: ReadonlyArray<{ path: string; message: string }>,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** The request names something invalid (a field, a parameter); maps to 400. */
export class ValidationError extends DomainError {
  constructor(message: string, details?: ReadonlyArray<{ path: string; message: string }>) {
    super('validation_failed', message, details);
  }
}

export class NotFoundError extends DomainError {
  constructor(message: string) {
    super('not_found', message);
  }
}

export class ConflictError extends DomainError {
  constructor(message: string, code = 'conflict', details?: ReadonlyArray<{ path: string; message: string }>) {
    super(code, message, details);
  }
}

export class UnauthorizedError extends DomainError {
  constructor(message = 'authentication required') {
    super('unauthorized', message);
  }
}

export class ForbiddenError extends DomainError {
  constructor(message: string) {
    super('forbidden', message);
  }
}

/**
 * The database cannot be reached or did not answer in time (it restarts, the network is
 * down, a statement ran into its timeout). Nothing the request asked for is known to have
 * happened unless its answer said so: the caller retries after `retryAfterSeconds`, which is
 * safe for every write (ingest is idempotent on its request ids). Maps to 503.
 */
export class DatabaseUnavailableError extends DomainError {
  constructor(
    message = 'the database is unavailable; retry later',
    readonly retryAfterSeconds = 2,
  ) {
    super('database_unavailable', message);
  }
}

/**
 * The caller may not go on now: a quota is used up or a rate is exceeded. Maps to 429 with
 * `Retry-After`; `resetsAt`, when known, is when the quota period starts again.
 */
export class LimitReachedError extends DomainError {
  constructor(
    code: 'quota_exceeded' | 'rate_limited',
    message: string,
    readonly retryAfterSeconds: number,
    readonly resetsAt?: Date,
    /** tokens the user had left under a token limit when refused; absent without one */
    readonly tokensLeft?: number,
  ) {
    super(code, message);
  }
}
