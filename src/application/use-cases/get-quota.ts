import { inject, injectable } from 'tsyringe';
import type { Decimal } from '../../domain/decimal';
import { Decimal as Exact } from '../../domain/decimal';
import { quotaPeriod, quotaStatus, usagePercentage, type Plan, type QuotaStatus } from '../../domain/plan';
import type { Clock } from '../ports/clock.port';
import type { PlanStore } from '../ports/plan-store.port';
import type { QuotaUsage } from '../ports/quota-store.port';
import type { QuotaStore } from '../ports/quota-store.port';
import { TOKENS } from '../ports/tokens';

export interface QuotaFigures<T> {
  limit: T | null;
  used: T;
  reserved: T;
  remaining: T | null;
  usagePercentage: number | null;
}

export interface Quota {
  plan: Pick<Plan, 'id' | 'name'>;
  limitType: Plan['limitType'];
  periodStart: Date;
  resetsAt: Date;
  status: QuotaStatus;
  tokens: QuotaFigures<number>;
  cost: QuotaFigures<Decimal>;
}

/** A user's quota in the current period: limits from the plan, usage as recorded, holds of live reservations. */
@injectable()
export class GetQuota {
  constructor(
    @inject(TOKENS.PlanStore) private readonly plans: PlanStore,
    @inject(TOKENS.QuotaStore) private readonly quotas: QuotaStore,
    @inject(TOKENS.Clock) private readonly clock: Clock,
  ) {}

  async execute(workspaceId: string, userId: string): Promise<Quota> {
    await this.plans.ensureWorkspace(workspaceId);
    const now = this.clock.now();
    const [zone, limits] = await Promise.all([
      this.plans.timeZone(workspaceId),
      this.plans.limitsOf(workspaceId, userId),
    ]);
    const period = quotaPeriod(now, zone);
    const usage = await this.quotas.usage(workspaceId, userId, period.start, now);
    return quotaOf(limits.plan, limits.tokenLimit, limits.costLimit, period, usage);
  }
}

export function quotaOf(
  plan: Plan,
  tokenLimit: number | null,
  costLimit: Decimal | null,
  period: { start: Date; resetsAt: Date },
  usage: QuotaUsage,
): Quota {
  const tokens = figures(
    tokenLimit === null ? null : Exact.fromInteger(tokenLimit),
    Exact.fromInteger(usage.usedTokens),
    Exact.fromInteger(usage.reservedTokens),
  );
  const cost = figures(costLimit, usage.usedCost, usage.reservedCost);
  return {
    plan: { id: plan.id, name: plan.name },
    limitType: plan.limitType,
    periodStart: period.start,
    resetsAt: period.resetsAt,
    status: quotaStatus([tokens.usagePercentage, cost.usagePercentage], plan.alertThresholds),
    tokens: {
      limit: tokenLimit,
      used: usage.usedTokens,
      reserved: usage.reservedTokens,
      remaining: tokens.remaining === null ? null : Number(tokens.remaining.toString()),
      usagePercentage: tokens.usagePercentage,
    },
    cost,
  };
}

function figures(limit: Decimal | null, used: Decimal, reserved: Decimal): QuotaFigures<Decimal> {
  let remaining: Decimal | null = null;
  if (limit !== null) {
    const left = limit.plus(negate(used)).plus(negate(reserved));
    remaining = left.isNegative() ? Exact.ZERO : left;
  }
  return { limit, used, reserved, remaining, usagePercentage: usagePercentage(used, limit) };
}

function negate(value: Decimal): Decimal {
  return Exact.fromInteger(-1).times(value);
}
