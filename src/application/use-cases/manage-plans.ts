import { inject, injectable } from 'tsyringe';
import type { Decimal } from '../../domain/decimal';
import { showsCost } from '../../domain/deployment-mode';
import { ConflictError, NotFoundError, ValidationError } from '../../domain/errors';
import { alertThresholds, DEFAULT_ALERT_THRESHOLDS, type LimitType, type Plan } from '../../domain/plan';
import { isTimeZone } from '../../domain/usage-window';
import type { Clock } from '../ports/clock.port';
import type { PlanStore } from '../ports/plan-store.port';
import type { Settings } from '../ports/settings.port';
import type { TimeZoneRules } from '../ports/time-zone-rules.port';
import { TOKENS } from '../ports/tokens';

/** Fields of a plan as an admin sends them; absent fields keep their value (or take the default). */
export interface PlanInput {
  name?: string;
  monthlyTokenLimit?: number | null;
  monthlyCostLimit?: Decimal | null;
  limitType?: LimitType;
  alertThresholds?: number[];
  requestsPerMinute?: number | null;
  isDefault?: boolean;
}

export interface AssignmentInput {
  planId: string;
  monthlyTokenLimit?: number | null;
  monthlyCostLimit?: Decimal | null;
}

@injectable()
export class ManagePlans {
  constructor(
    @inject(TOKENS.PlanStore) private readonly plans: PlanStore,
    @inject(TOKENS.Settings) private readonly settings: Settings,
    @inject(TOKENS.Clock) private readonly clock: Clock,
    @inject(TOKENS.TimeZoneRules) private readonly zones: TimeZoneRules,
  ) {}

  async list(workspaceId: string): Promise<Plan[]> {
    await this.plans.ensureWorkspace(workspaceId);
    return this.plans.list(workspaceId);
  }

  async create(workspaceId: string, input: PlanInput & { name: string }): Promise<Plan> {
    this.refuseCostInCloud(input.monthlyCostLimit);
    await this.plans.ensureWorkspace(workspaceId);
    const created = await this.plans.create(workspaceId, {
      name: input.name,
      monthlyTokenLimit: input.monthlyTokenLimit ?? null,
      monthlyCostLimit: input.monthlyCostLimit ?? null,
      limitType: input.limitType ?? 'hard',
      alertThresholds: alertThresholds(input.alertThresholds ?? DEFAULT_ALERT_THRESHOLDS),
      requestsPerMinute: input.requestsPerMinute ?? null,
      isDefault: input.isDefault ?? false,
    });
    if (!created) throw new ConflictError(`a plan named ${JSON.stringify(input.name)} exists`);
    return created;
  }

  async update(workspaceId: string, planId: string, input: PlanInput): Promise<Plan> {
    this.refuseCostInCloud(input.monthlyCostLimit);
    const current = await this.existing(workspaceId, planId);
    if (current.isDefault && input.isDefault === false) {
      throw new ValidationError('a workspace always has a default plan', [
        { path: '/isDefault', message: 'make another plan the default instead' },
      ]);
    }
    const changed: Plan = {
      ...current,
      ...definedOnly(input),
      alertThresholds:
        input.alertThresholds === undefined ? current.alertThresholds : alertThresholds(input.alertThresholds),
    };
    const updated = await this.plans.update(workspaceId, changed);
    if (updated === 'missing') throw new NotFoundError(`no plan ${planId} in this workspace`);
    if (updated === 'name-taken') throw new ConflictError(`a plan named ${JSON.stringify(changed.name)} exists`);
    return updated;
  }

  async remove(workspaceId: string, planId: string): Promise<void> {
    await this.plans.ensureWorkspace(workspaceId);
    const removed = await this.plans.remove(workspaceId, planId);
    if (removed === 'missing') throw new NotFoundError(`no plan ${planId} in this workspace`);
    if (removed === 'default') {
      throw new ConflictError('the default plan cannot be deleted; make another plan the default first');
    }
  }

  async assign(workspaceId: string, userId: string, input: AssignmentInput): Promise<Plan> {
    this.refuseCostInCloud(input.monthlyCostLimit);
    const plan = await this.existing(workspaceId, input.planId, '/planId');
    await this.plans.assign(workspaceId, userId, input);
    return plan;
  }

  async timeZone(workspaceId: string): Promise<string> {
    await this.plans.ensureWorkspace(workspaceId);
    return this.plans.timeZone(workspaceId);
  }

  async setTimeZone(workspaceId: string, zone: string): Promise<void> {
    // a zone Intl knows and PostgreSQL does not (US/Pacific-New) is refused here, not by a 500
    if (!(await this.zones.load(zone)) || !isTimeZone(zone)) {
      throw new ValidationError(`unknown time zone ${JSON.stringify(zone)}`, [
        { path: '/timeZone', message: 'must be an IANA time zone such as Europe/Berlin' },
      ]);
    }
    await this.plans.setTimeZone(workspaceId, zone, this.clock.now());
  }

  private async existing(workspaceId: string, planId: string, path?: string): Promise<Plan> {
    await this.plans.ensureWorkspace(workspaceId);
    const plan = await this.plans.get(workspaceId, planId);
    if (plan) return plan;
    if (path) throw new ValidationError(`no plan ${planId} in this workspace`, [{ path, message: 'no such plan' }]);
    throw new NotFoundError(`no plan ${planId} in this workspace`);
  }

  /** Cost exists only where the deployment shows it: in cloud mode it is not accepted either. */
  private refuseCostInCloud(costLimit: Decimal | null | undefined): void {
    if (costLimit !== undefined && !showsCost(this.settings.deploymentMode)) {
      throw new ValidationError('cost limits are not available in this deployment', [
        { path: '/monthlyCostLimit', message: 'not accepted when DEPLOYMENT_MODE=cloud' },
      ]);
    }
  }
}

function definedOnly<T extends object>(input: T): Partial<T> {
  return Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined)) as Partial<T>;
}
