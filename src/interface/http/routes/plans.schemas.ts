import { Type } from '@sinclair/typebox';
import { Nullable, StringEnum } from '../schemas/common';
import { CostField } from '../schemas/cost';

const COST_NOTE = 'self-hosted mode only: absent, and not accepted, when DEPLOYMENT_MODE=cloud';
const TokenLimit = (description: string) =>
  Nullable(Type.Integer({ minimum: 0, maximum: 1_000_000_000_000_000, examples: [200_000] }), { description });
const CostLimitString = Type.String({ pattern: '^\\d{1,12}(\\.\\d{1,12})?$', examples: ['250.00'] });
const CostLimit = (description: string) =>
  CostField(Nullable(CostLimitString, { description: `${description}; ${COST_NOTE}` }));
const LimitType = StringEnum(['hard', 'soft'], {
  description: 'hard: a reservation over the limit is refused; soft: allowed and flagged',
});
const Thresholds = Type.Array(Type.Integer({ minimum: 1, maximum: 1000 }), {
  minItems: 0,
  maxItems: 20,
  description: 'percentages of the limit at which a quota.threshold_crossed alert is sent',
  examples: [[80, 100]],
});
const RequestsPerMinute = Nullable(Type.Integer({ minimum: 1, maximum: 1_000_000 }), {
  description: 'pre-flight reservations a user may make per minute; null: no limit',
});

export const Plan = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    name: Type.String({ examples: ['pro'] }),
    monthlyTokenLimit: TokenLimit('tokens a user may use per month; null: unlimited'),
    monthlyCostLimit: CostLimit('USD a user may spend per month; null: unlimited'),
    limitType: LimitType,
    alertThresholds: Thresholds,
    requestsPerMinute: RequestsPerMinute,
    isDefault: Type.Boolean({ description: 'the plan of every user without one; exactly one per workspace' }),
  },
  { $id: 'Plan', title: 'Plan' },
);

export const PlanList = Type.Object({ items: Type.Array(Type.Ref(Plan)) });

const Name = Type.String({ minLength: 1, maxLength: 100, pattern: '\\S', examples: ['team'] });

export const CreatePlanBody = Type.Object(
  {
    name: Name,
    monthlyTokenLimit: Type.Optional(TokenLimit('default: unlimited')),
    monthlyCostLimit: CostLimit('default: unlimited'),
    limitType: Type.Optional(StringEnum(['hard', 'soft'], { description: 'default: hard' })),
    alertThresholds: Type.Optional(Thresholds),
    requestsPerMinute: Type.Optional(RequestsPerMinute),
    isDefault: Type.Optional(Type.Boolean({ description: 'true: this plan becomes the default' })),
  },
  { additionalProperties: false },
);

export const UpdatePlanBody = Type.Object(
  {
    name: Type.Optional(Name),
    monthlyTokenLimit: Type.Optional(TokenLimit('null: unlimited')),
    monthlyCostLimit: CostLimit('null: unlimited'),
    limitType: Type.Optional(StringEnum(['hard', 'soft'])),
    alertThresholds: Type.Optional(Thresholds),
    requestsPerMinute: Type.Optional(RequestsPerMinute),
    isDefault: Type.Optional(
      Type.Boolean({ description: 'true: this plan becomes the default (the old default stops being it)' }),
    ),
  },
  { additionalProperties: false, minProperties: 1 },
);

export const PlanParams = Type.Object({ planId: Type.String({ format: 'uuid' }) });

export const UserParams = Type.Object({ userId: Type.String({ minLength: 1, maxLength: 200 }) });

export const AssignPlanBody = Type.Object(
  {
    planId: Type.String({ format: 'uuid' }),
    monthlyTokenLimit: Type.Optional(TokenLimit('replaces the plan’s token limit for this user; null: unlimited')),
    monthlyCostLimit: CostLimit('replaces the plan’s cost limit for this user; null: unlimited'),
  },
  { additionalProperties: false },
);

export const UserPlan = Type.Object({
  userId: Type.String(),
  plan: Type.Object({ id: Type.String({ format: 'uuid' }), name: Type.String() }),
});

export const WorkspaceSettings = Type.Object(
  {
    timeZone: Type.String({
      minLength: 1,
      maxLength: 64,
      description: 'IANA zone whose calendar months are the quota periods',
      examples: ['Europe/Berlin'],
    }),
  },
  { additionalProperties: false },
);

export const PLAN_SCHEMAS = [Plan];
