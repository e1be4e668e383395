import { inject, injectable } from 'tsyringe';
import type { Principal } from '../../domain/principal';
import type { TokenUsage } from '../../domain/token-usage';
import type { TokenSource } from '../../domain/usage-record';
import type { Clock } from '../ports/clock.port';
import { TOKENS } from '../ports/tokens';
import { IngestUsage } from './ingest-usage';
import { ReserveQuota } from './reserve-quota';

/** What the proxy knows of a call before forwarding it. */
export interface ProxiedCallPlan {
  userId: string;
  provider: string;
  /** the model the request names */
  model: string;
  /** the prompt's tokens by tokenizer plus the requested maximum output */
  estimatedTokens: number;
  /** a request id of the proxy's own, unique per call (the provider's id is known only afterwards) */
  proxyRequestId: string;
}

/** A call let through: the plan, and the reservation holding its estimate (null when there was none to make). */
export interface AdmittedCall {
  plan: ProxiedCallPlan;
  reservationId: string | null;
  startedAt: Date;
}

/** How a proxied call ended. */
export interface ProxiedCallOutcome extends TokenUsage {
  /** the provider's response id; absent (an error, a stream cut before its first event): the proxy's own id */
  responseId?: string;
  /** the model the provider answered with; absent: the requested one */
  model?: string;
  operation: string;
  tokenSource: TokenSource;
  durationMs: number;
  success: boolean;
  error?: string;
}

/**
 * Quota and recording around one proxied call. Before forwarding, the estimate is reserved
 * under the proxy's own request id (the provider's response id exists only afterwards). After
 * the call, the record is stored through the one ingest path under the provider's response id;
 * only then is the reservation released. In between, the call counts twice against the user's
 * quota for a moment, never zero times: releasing first would let a concurrent call slip
 * through, and a process that dies in between leaves a reservation that expires by itself. A
 * call without a response id (an upstream error, a stream cut before its first event) is
 * recorded under the proxy's id, and that ingest settles the reservation itself.
 */
@injectable()
export class MeterProxiedCall {
  constructor(
    @inject(IngestUsage) private readonly ingest: IngestUsage,
    @inject(ReserveQuota) private readonly quota: ReserveQuota,
    @inject(TOKENS.Clock) private readonly clock: Clock,
  ) {}

  /** Reserves the estimate on the user's plan; a refusal throws LimitReachedError. */
  async admit(principal: Principal, plan: ProxiedCallPlan): Promise<AdmittedCall> {
    const granted = await this.quota.reserve(principal, {
      userId: plan.userId,
      requestId: plan.proxyRequestId,
      estimatedTokens: plan.estimatedTokens,
      provider: plan.provider,
      model: plan.model,
    });
    return { plan, reservationId: granted.reservation.id, startedAt: this.clock.now() };
  }

  /** Stores the call's record, then lets go of its reservation; true when the record is new. */
  async record(principal: Principal, call: AdmittedCall, outcome: ProxiedCallOutcome): Promise<boolean> {
    const requestId = outcome.responseId ?? call.plan.proxyRequestId;
    const result = await this.ingest.execute(principal, [
      {
        requestId,
        occurredAt: call.startedAt,
        userId: call.plan.userId,
        provider: call.plan.provider,
        model: outcome.model ?? call.plan.model,
        operation: outcome.operation,
        inputTokens: outcome.inputTokens,
        outputTokens: outcome.outputTokens,
        cachedInputTokens: outcome.cachedInputTokens,
        cacheWriteTokens: outcome.cacheWriteTokens,
        reasoningTokens: outcome.reasoningTokens,
        durationMs: outcome.durationMs,
        success: outcome.success,
        error: outcome.error,
        tokenSource: outcome.tokenSource,
      },
    ]);
    if (call.reservationId !== null && requestId !== call.plan.proxyRequestId) {
      await this.quota.release(principal, call.reservationId).catch(() => undefined);
    }
    return result.accepted === 1;
  }
}
