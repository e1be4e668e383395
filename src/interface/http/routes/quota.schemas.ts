import { Type } from '@sinclair/typebox';
import { DEFAULT_RESERVATION_TTL_SECONDS, MAX_RESERVATION_TTL_SECONDS } from '../../../domain/plan';
import { DecimalString, ErrorResponse, Nullable, StringEnum } from '../schemas/common';
import { CostField } from '../schemas/cost';

const Tokens = (description: string, example: number) => Type.Integer({ minimum: 0, description, examples: [example] });
const Money = (description: string) => DecimalString(description, '12.5');

const Percentage = Nullable(Type.Number({ minimum: 0, examples: [62.5] }), {
  description:
    'used / limit in percent, truncated to two decimals, over 100 when usage went past the limit; against a limit of 0, 0 with nothing used and 1.7976931348623157e308 (the largest double: past the limit by more than any ratio, above every other percentage) with any usage; null when unlimited',
});

export const Quota = Type.Object(
  {
    plan: Type.Object({ id: Type.String({ format: 'uuid' }), name: Type.String({ examples: ['pro'] }) }),
    limitType: StringEnum(['hard', 'soft']),
    periodStart: Type.String({
      format: 'date-time',
      description: 'the 1st of this month, midnight in the workspace’s zone',
    }),
    resetsAt: Type.String({ format: 'date-time', description: 'when the next period starts' }),
    status: StringEnum(['ok', 'warning', 'exceeded'], {
      description: 'warning: past the plan’s first alert threshold; exceeded: at or past a limit',
    }),
    tokens: Type.Object({
      limit: Nullable(Type.Integer({ minimum: 0, examples: [200_000] }), { description: 'null: unlimited' }),
      used: Tokens('every recorded token of the period, as the Usage tab counts it', 125_000),
      reserved: Tokens('held by live reservations', 4_000),
      remaining: Nullable(Type.Integer({ minimum: 0, examples: [71_000] }), {
        description: 'limit − used − reserved, never below 0; null when unlimited',
      }),
      usagePercentage: Percentage,
    }),
    cost: CostField(
      Type.Object(
        {
          limit: Nullable(Type.String({ pattern: '^\\d+(\\.\\d+)?$' }), { description: 'USD; null: unlimited' }),
          used: Money('USD of the period’s priced records'),
          reserved: Money('USD held by live reservations with a cost estimate'),
          remaining: Nullable(Type.String({ pattern: '^\\d+(\\.\\d+)?$' }), {
            description: 'USD; null when unlimited',
          }),
          usagePercentage: Percentage,
        },
        { description: 'absent when DEPLOYMENT_MODE=cloud' },
      ),
    ),
  },
  { $id: 'Quota', title: 'Quota' },
);

export const UserQuotaParams = Type.Object({ userId: Type.String({ minLength: 1, maxLength: 200 }) });

export const ReservationBody = Type.Object(
  {
    userId: Type.String({ minLength: 1, maxLength: 200, examples: ['alice'] }),
    requestId: Type.String({
      minLength: 1,
      maxLength: 200,
      description: 'the requestId the call’s usage record will carry: it settles the reservation',
      examples: ['chatcmpl-9x2Lk'],
    }),
    estimatedTokens: Type.Integer({ minimum: 0, maximum: 1_000_000_000, examples: [4_000] }),
    estimatedCost: CostField(
      Type.String({
        pattern: '^\\d{1,9}(\\.\\d{1,12})?$',
        description:
          'USD; default: estimatedTokens at the model’s dearest rate, when provider and model are priced. ' +
          'Refused (400) when DEPLOYMENT_MODE=cloud',
        examples: ['0.04'],
      }),
    ),
    provider: Type.Optional(Type.String({ minLength: 1, maxLength: 100, examples: ['openai'] })),
    model: Type.Optional(Type.String({ minLength: 1, maxLength: 200, examples: ['gpt-4o'] })),
    ttlSeconds: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: MAX_RESERVATION_TTL_SECONDS,
        default: DEFAULT_RESERVATION_TTL_SECONDS,
        description: 'an unsettled reservation expires after this',
      }),
    ),
  },
  { additionalProperties: false },
);

export const ReservationGranted = Type.Object(
  {
    allowed: Type.Boolean({ description: 'always true: a refusal is a 429' }),
    reservationId: Type.String({ format: 'uuid' }),
    expiresAt: Type.String({ format: 'date-time' }),
    overLimit: Type.Boolean({ description: 'a soft limit let this reservation go past it' }),
    tokens: Type.Object({
      limit: Nullable(Type.Integer({ minimum: 0 }), { description: 'null: unlimited' }),
      used: Type.Integer({ minimum: 0 }),
      reserved: Type.Integer({ minimum: 0, description: 'held by live reservations, this one included' }),
      remaining: Nullable(Type.Integer({ minimum: 0 }), { description: 'null when unlimited' }),
    }),
  },
  { $id: 'ReservationGranted', title: 'ReservationGranted' },
);

/** A reservation's 409s, in the one error shape: both say the requestId cannot be reserved (again). */
export const ReservationConflict = Type.Unsafe({
  ...Type.Ref(ErrorResponse),
  description:
    '`reservation_ended`: this requestId’s reservation was released, expired or settled and holds nothing ' +
    '(the message says which; `details` names /requestId): a retry is not granted again, a new call needs a new ' +
    'requestId. `conflict`: the requestId holds another user’s reservation',
});

export const ReservationParams = Type.Object({ reservationId: Type.String({ format: 'uuid' }) });

export const QUOTA_SCHEMAS = [Quota, ReservationGranted];
