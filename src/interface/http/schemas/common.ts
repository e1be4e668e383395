import { Type, type TSchema } from '@sinclair/typebox';

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
