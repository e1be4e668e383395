import {
  Kind,
  OptionalKind,
  Type,
  type SchemaOptions,
  type Static,
  type TSchema,
  type TUnsafe,
} from '@sinclair/typebox';

/**
 * One string enum: `{ type: 'string', enum: [...] }` in the document (OpenAPI 3.0 has no
 * `const`, and generators read an `anyOf` of single values poorly), the union of the values
 * as its static type. ajv and fast-json-stringify both read it as a plain string enum.
 */
export function StringEnum<const Values extends readonly [string, ...string[]]>(
  values: Values,
  options: SchemaOptions = {},
): TUnsafe<Values[number]> {
  return Type.Unsafe<Values[number]>({ ...options, type: 'string', enum: [...values] });
}

/**
 * A value that may be null, as OpenAPI 3.0 says it: the schema itself with `nullable: true`
 * (not an `anyOf` with a null type). ajv (fastify's validator) and fast-json-stringify (its
 * serializer) both honour `nullable`; it needs the schema's own `type`, so no `$ref` here.
 */
export function Nullable<T extends TSchema>(schema: T, options: SchemaOptions = {}): TUnsafe<Static<T> | null> {
  if (typeof schema.type !== 'string') throw new Error('Nullable needs a schema with a single `type`');
  const { [Kind]: _kind, [OptionalKind]: _optional, ...json } = schema as TSchema;
  return Type.Unsafe<Static<T> | null>({ ...json, ...options, nullable: true });
}

/**
 * A parameter or body field with a default: optional in the document, so a client may leave
 * it out; ajv's `useDefaults` fills the default in before the handler runs, so the handler's
 * static type keeps it present.
 */
export function WithDefault<T extends TSchema>(schema: T): T {
  if (schema.default === undefined) throw new Error('WithDefault needs a schema with a `default`');
  // optional at run time (left out of `required`), present in the static type
  return Type.Optional(schema) as TSchema as T;
}

/** The one error shape of every non-2xx response. */
export const ErrorResponse = Type.Object(
  {
    statusCode: Type.Integer({ examples: [400] }),
    code: Type.String({ description: 'machine-readable error kind', examples: ['validation_failed'] }),
    message: Type.String({ examples: ['querystring/from must be an ISO 8601 date-time'] }),
    details: Type.Optional(
      Type.Array(
        Type.Object({
          path: Type.String({ description: 'JSON pointer of the offending field', examples: ['/inputTokens'] }),
          message: Type.String(),
        }),
      ),
    ),
    resetsAt: Type.Optional(
      Type.String({
        format: 'date-time',
        description: 'with quota_exceeded and rate_limited: when the quota period starts again',
      }),
    ),
  },
  { $id: 'Error', title: 'Error' },
);

const ErrorRef = Type.Ref(ErrorResponse);

const DESCRIPTIONS: Record<number, string> = {
  400: 'Invalid request; `details` names each offending field',
  401: 'Missing, invalid, expired or revoked credentials',
  403: 'Authenticated, but not allowed',
  404: 'Not found in the caller’s workspace',
  409: 'Conflicts with existing data',
  413: 'Request body too large',
  429: 'Too many requests from this API key, user or address; `Retry-After` says when to retry',
  503: 'Not ready',
};

/** Shared error responses for a route's schema. */
export function errorResponses(...statuses: number[]): Record<number, TSchema> {
  const responses: Record<number, TSchema> = {};
  for (const status of statuses) {
    responses[status] = Type.Unsafe({ ...ErrorRef, description: DESCRIPTIONS[status] ?? 'Error' });
  }
  return responses;
}

/** Decimal string of USD or of a price; exact, never a binary float. */
export const DecimalString = (description: string, example = '0.004215') =>
  Type.String({ pattern: '^-?\\d+(\\.\\d+)?$', description, examples: [example] });

export const SHARED_SCHEMAS = [ErrorResponse];

type Security = Array<Record<string, string[]>>;
export const BEARER: Security = [{ bearerAuth: [] }];
export const BEARER_OR_API_KEY: Security = [{ bearerAuth: [] }, { apiKey: [] }];
