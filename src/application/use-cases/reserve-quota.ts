import { inject, injectable } from 'tsyringe';
import { Decimal } from '../../domain/decimal';
import { effectiveRates } from '../../domain/cost';
import { showsCost } from '../../domain/deployment-mode';
import { ConflictError, ForbiddenError, LimitReachedError, NotFoundError, ValidationError } from '../../domain/errors';
import { priceInForce } from '../../domain/model-price';
import { DEFAULT_RESERVATION_TTL_SECONDS } from '../../domain/plan';
import type { Principal } from '../../domain/principal';
import type { Clock } from '../ports/clock.port';
import type { PlanStore } from '../ports/plan-store.port';
import type { PriceCatalog } from '../ports/price-catalog.port';
import type { Settings } from '../ports/settings.port';
import type { Reservation, ReservationEnd, ReservationView, QuotaStore } from '../ports/quota-store.port';
import { TOKENS } from '../ports/tokens';

/** How a reservation that no longer holds ended, as a retry of its request id is told. */
const ENDED: Record<ReservationEnd, string> = {
  released: 'was released',
  expired: 'expired unsettled',
  settled: 'was settled by its usage record',
};

export interface ReservationInput {
  userId: string;
  requestId: string;
  estimatedTokens: number;
  estimatedCost?: Decimal;
  provider?: string;
  model?: string;
  ttlSeconds?: number;
}

export interface Granted {
  reservation: Reservation;
  /** false when a retried request returned the reservation made before */
  created: boolean;
  view: ReservationView;
}

@injectable()
export class ReserveQuota {
  constructor(
    @inject(TOKENS.PlanStore) private readonly plans: PlanStore,
    @inject(TOKENS.QuotaStore) private readonly quotas: QuotaStore,
    @inject(TOKENS.PriceCatalog) private readonly catalog: PriceCatalog,
    @inject(TOKENS.Clock) private readonly clock: Clock,
    @inject(TOKENS.Settings) private readonly settings: Settings,
  ) {}

  async reserve(principal: Principal, input: ReservationInput): Promise<Granted> {
    if (principal.kind === 'user' && principal.role !== 'admin' && input.userId !== principal.userId) {
      throw new ForbiddenError('a member may reserve only for themself');
    }
    // cost exists only where the deployment shows it: in cloud mode an estimate is not accepted either
    if (input.estimatedCost !== undefined && !showsCost(this.settings.deploymentMode)) {
      throw new ValidationError('cost estimates are not available in this deployment', [
        { path: '/estimatedCost', message: 'not accepted when DEPLOYMENT_MODE=cloud' },
      ]);
    }
    const workspaceId = principal.workspaceId;
    await this.plans.ensureWorkspace(workspaceId);
    const now = this.clock.now();
    const outcome = await this.quotas.reserve({
      workspaceId,
      userId: input.userId,
      requestId: input.requestId,
      estimatedTokens: input.estimatedTokens,
      estimatedCost: input.estimatedCost ?? (await this.estimateCost(workspaceId, input, now)),
      provider: input.provider ?? null,
      model: input.model ?? null,
      ttlSeconds: input.ttlSeconds ?? DEFAULT_RESERVATION_TTL_SECONDS,
      now,
    });
    switch (outcome.kind) {
      case 'granted':
      case 'existing':
        return { reservation: outcome.reservation, created: outcome.kind === 'granted', view: outcome.view };
      case 'conflict':
        throw new ConflictError(`requestId ${JSON.stringify(input.requestId)} holds another user's reservation`);
      case 'ended':
        // a retry is answered with the reservation only while it holds: one that ended holds
        // nothing, and granting it again would skip the limit
        throw new ConflictError(
          `the reservation for requestId ${JSON.stringify(input.requestId)} has ended: it ${ENDED[outcome.how]}` +
            ` (reservation ${outcome.reservationId}); a new reservation needs a new requestId`,
          'reservation_ended',
          [{ path: '/requestId', message: `its reservation ${ENDED[outcome.how]}` }],
        );
      case 'quota_exceeded': {
        const { resetsAt, view } = outcome;
        throw new LimitReachedError(
          'quota_exceeded',
          `the reservation would exceed ${input.userId}'s monthly limit; the period resets at ${resetsAt.toISOString()}`,
          Math.max(1, Math.ceil((resetsAt.getTime() - now.getTime()) / 1000)),
          resetsAt,
          view.tokenLimit === null
            ? undefined
            : Math.max(0, view.tokenLimit - view.usage.usedTokens - view.usage.reservedTokens),
        );
      }
      case 'rate_limited':
        throw new LimitReachedError(
          'rate_limited',
          `${input.userId} made the plan's reservations per minute already; retry in ${outcome.retryAfterSeconds} s`,
          outcome.retryAfterSeconds,
          outcome.resetsAt,
        );
    }
  }

  /** The call failed: its reservation stops holding budget. Members may release only their own. */
  async release(principal: Principal, reservationId: string): Promise<void> {
    const outcome = await this.quotas.release(
      principal.workspaceId,
      reservationId,
      principal.kind === 'user' && principal.role !== 'admin' ? principal.userId : undefined,
    );
    if (outcome === 'not_found' || outcome === 'forbidden') throw new NotFoundError(`no reservation ${reservationId}`);
    if (outcome === 'settled') throw new ConflictError('the reservation was settled by its usage record already');
  }

  /** Calls of the service's own that ended: their reservations stop holding budget, in one go. */
  async releaseAll(principal: Principal, reservationIds: readonly string[]): Promise<void> {
    await this.quotas.releaseAll(principal.workspaceId, reservationIds);
  }

  /**
   * Without a cost estimate, the named model's price in force now, at its dearest per-token
   * rate: an estimate that never underestimates. The long-context tier's rates count only when
   * the estimate is above its threshold (a call's input is at most all of its tokens), and
   * every daily window's (the call may fall in any of them). Unknown
   * or unpriced models: no cost check.
   */
  private async estimateCost(workspaceId: string, input: ReservationInput, now: Date): Promise<Decimal | null> {
    if (!input.provider || !input.model) return null;
    const ref = { provider: input.provider, model: input.model };
    const schedules = await this.catalog.recentSchedulesFor(workspaceId, ref);
    const price = schedules ? priceInForce(schedules, now) : null;
    if (!price) return null;
    const long = price.longContext;
    const rates = [effectiveRates(price)];
    if (long && input.estimatedTokens > long.aboveInputTokens) rates.push(effectiveRates(long));
    // the call may start or run into any daily window before it is settled
    for (const window of price.timeOfDay) rates.push(effectiveRates(window));
    const dearest = rates.flatMap((r) => Object.values(r)).reduce((a, b) => (a.compare(b) >= 0 ? a : b));
    return Decimal.fromInteger(input.estimatedTokens).times(dearest).shiftLeft(6);
  }
}
