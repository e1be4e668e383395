import { inject, injectable } from 'tsyringe';
import { DatabaseUnavailableError, LimitReachedError } from '../../domain/errors';
import type { Principal } from '../../domain/principal';
import type { TokenUsage } from '../../domain/token-usage';
import type { TokenSource } from '../../domain/usage-record';
import type { Clock } from '../ports/clock.port';
import type { PlanStore } from '../ports/plan-store.port';
import { TOKENS } from '../ports/tokens';
import { IngestUsage, type BatchItem, type IngestResult } from './ingest-usage';
import { ReserveQuota } from './reserve-quota';

/** What the proxy knows of a call before forwarding it. */
export interface ProxiedCallPlan {
  userId: string;
  provider: string;
  /** the model the request names */
  model: string;
  /**
   * The prompt's tokens by tokenizer and the requested maximum output. Called only when a
   * reservation is made: counting a long prompt takes milliseconds before the first byte.
   */
  estimate(): CallEstimate | Promise<CallEstimate>;
  /** a request id of the proxy's own, unique per call (the provider's id is known only afterwards) */
  proxyRequestId: string;
}

export interface CallEstimate {
  promptTokens: number;
  outputTokens: number;
  /** false when the request names no maximum output and outputTokens is a default guess */
  outputStated: boolean;
}

/** A call let through: the plan, and the reservation holding its estimate (null when there was none to make). */
export interface AdmittedCall {
  plan: ProxiedCallPlan;
  reservationId: string | null;
  startedAt: Date;
}

/** How a proxied call ended. */
export interface ProxiedCallOutcome extends TokenUsage {
  /** the provider's response id (of an error: its request id); absent: the proxy's own id is used */
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
 * (when the user's plan can refuse the call at all) under the proxy's own request id (the provider's response id exists only afterwards). After
 * the call, the record is stored through the one ingest path under the provider's response id;
 * only then is the reservation released. In between, the call counts twice against the user's
 * quota for a moment, never zero times: releasing first would let a concurrent call slip
 * through, and a process that dies in between leaves a reservation that expires by itself. A
 * call without a response id (an embedding, an error without a request id, a stream cut before
 * its first event) is recorded under the proxy's id, and that ingest settles the reservation
 * itself.
 */
@injectable()
export class MeterProxiedCall {
  constructor(
    @inject(IngestUsage) private readonly ingest: IngestUsage,
    @inject(ReserveQuota) private readonly quota: ReserveQuota,
    @inject(TOKENS.Clock) private readonly clock: Clock,
    @inject(TOKENS.PlanStore) private readonly plans: PlanStore,
  ) {}

  /**
   * Reserves the estimate on the user's plan; a refusal throws LimitReachedError. A user whose
   * limits cannot refuse anything (no token or cost limit, no requests per minute) gets no
   * reservation: it would only cost a database round trip before the call's first byte. Those
   * limits are known from a lookup at most LIMITS_TTL_MS old, so a user moved onto a limited
   * plan is held to it within that time.
   */
  async admit(principal: Principal, plan: ProxiedCallPlan): Promise<AdmittedCall> {
    if (await this.unlimited(principal.workspaceId, plan.userId)) {
      return { plan, reservationId: null, startedAt: this.clock.now() };
    }
    const estimate = await plan.estimate();
    const reserve = (estimatedTokens: number) =>
      this.quota.reserve(principal, {
        userId: plan.userId,
        requestId: plan.proxyRequestId,
        estimatedTokens,
        provider: plan.provider,
        model: plan.model,
      });
    let granted;
    try {
      granted = await reserve(estimate.promptTokens + estimate.outputTokens);
    } catch (error) {
      // a default guess at the output (no maximum named) that does not fit, where the prompt
      // does: the call may go on holding all the user has left (a refusal stores nothing, so
      // the same request id is free). A stated maximum is the caller's own estimate and stands.
      const left = error instanceof LimitReachedError && error.code === 'quota_exceeded' ? error.tokensLeft : undefined;
      if (estimate.outputStated || left === undefined || left <= estimate.promptTokens) throw error;
      granted = await reserve(left);
    }
    return { plan, reservationId: granted.reservation.id, startedAt: this.clock.now() };
  }

  private readonly limits = new Map<string, KeptLimits>();

  private unlimited(workspaceId: string, userId: string): Promise<boolean> {
    const key = `${workspaceId}\u0000${userId}`;
    const now = this.clock.now().getTime();
    const kept = this.limits.get(key);
    if (kept && now - kept.lookedUpAt < LIMITS_TTL_MS) {
      // past half its life, a busy user's limits are looked up again beside the call: their
      // calls never wait for the lookup, and what they use is never older than LIMITS_TTL_MS
      if (now - kept.lookedUpAt >= LIMITS_TTL_MS / 2 && !kept.refreshing) {
        kept.refreshing = true;
        const next = this.lookUpUnlimited(workspaceId, userId);
        next.then(
          () =>
            this.limits.get(key) === kept &&
            this.limits.set(key, { unlimited: next, lookedUpAt: now, refreshing: false }),
          () => (kept.refreshing = false),
        );
      }
      return kept.unlimited;
    }
    if (this.limits.size >= MAX_KEPT_LIMITS) this.limits.clear();
    // one lookup per user at a time, however many of their calls arrive together
    const entry: KeptLimits = {
      unlimited: this.lookUpUnlimited(workspaceId, userId),
      lookedUpAt: now,
      refreshing: false,
    };
    this.limits.set(key, entry);
    entry.unlimited.catch(() => this.limits.get(key) === entry && this.limits.delete(key));
    return entry.unlimited;
  }

  private async lookUpUnlimited(workspaceId: string, userId: string): Promise<boolean> {
    await this.plans.ensureWorkspace(workspaceId);
    const { tokenLimit, costLimit, plan } = await this.plans.limitsOf(workspaceId, userId);
    return tokenLimit === null && costLimit === null && plan.requestsPerMinute === null;
  }

  /**
   * Stores the call's record, then lets go of its reservation; true when the record is new.
   * The client has its answer already, so records wait up to RECORD_LINGER_MS and go
   * together: one ingest statement and one release statement per caller (API key or user) for all the
   * calls that ended meanwhile, not one of each per call. Under many concurrent calls that
   * keeps the database round trips (each of which can stall the event loop that is passing
   * other calls' streams) to a few per linger, and the pool free for reservations.
   */
  record(principal: Principal, call: AdmittedCall, outcome: ProxiedCallOutcome): Promise<boolean> {
    return new Promise((resolve, reject) => {
      const key = principalKey(principal);
      let group = this.pending.get(key);
      if (!group) this.pending.set(key, (group = { principal, items: [] }));
      group.items.push({ call, outcome, resolve, reject });
      this.pendingCount += 1;
      if (this.pendingCount >= MAX_RECORD_BATCH) this.flushSoon(0);
      else this.flushSoon(RECORD_LINGER_MS);
    });
  }

  /** Stores every record waiting and every one being stored; for shutting down. */
  async drain(): Promise<void> {
    while (this.pendingCount > 0 || this.flushing) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = undefined;
      await (this.flushing ?? this.flush());
    }
  }

  private readonly pending = new Map<string, PendingGroup>();
  private pendingCount = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private flushing: Promise<void> | undefined;
  private timerDue = Infinity;

  private flushSoon(delayMs: number): void {
    const due = performance.now() + delayMs;
    if (this.timer && this.timerDue <= due) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerDue = due;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.timerDue = Infinity;
      // one flush at a time: records that end meanwhile go in the next
      if (this.flushing) void this.flushing.then(() => this.pendingCount > 0 && this.flushSoon(0));
      else void this.flush();
    }, delayMs);
  }

  private flush(): Promise<void> {
    const running = this.storePending().finally(() => {
      if (this.flushing === running) this.flushing = undefined;
    });
    this.flushing = running;
    return running;
  }

  private async storePending(): Promise<void> {
    while (this.pending.size > 0) {
      const groups = [...this.pending.values()];
      this.pending.clear();
      this.pendingCount = 0;
      // side by side: a caller whose batch waits out the database's retries holds up no other
      // (store never throws; ingest statements are limited per instance anyway)
      await Promise.all(groups.map((group) => this.store(group)));
    }
  }

  private async storeWithRetries(principal: Principal, drafts: ReadonlyArray<BatchItem>): Promise<IngestResult> {
    for (let attempt = 0; ; attempt += 1) {
      try {
        return await this.ingest.execute(principal, drafts);
      } catch (error) {
        const pause = RECORD_RETRY_PAUSES_MS[attempt];
        if (!(error instanceof DatabaseUnavailableError) || pause === undefined) throw error;
        await new Promise((resolve) => setTimeout(resolve, pause));
      }
    }
  }

  private async store({ principal, items }: PendingGroup): Promise<void> {
    const drafts = items.map(({ call, outcome }) => ({
      requestId: outcome.responseId ?? call.plan.proxyRequestId,
      occurredAt: call.startedAt,
      userId: call.plan.userId,
      provider: call.plan.provider,
      model: outcome.model ?? call.plan.model,
      operation: outcome.operation,
      inputTokens: outcome.inputTokens,
      outputTokens: outcome.outputTokens,
      cachedInputTokens: outcome.cachedInputTokens,
      cacheWriteTokens: outcome.cacheWriteTokens,
      cacheWrite1hTokens: outcome.cacheWrite1hTokens,
      reasoningTokens: outcome.reasoningTokens,
      durationMs: outcome.durationMs,
      success: outcome.success,
      error: outcome.error,
      tokenSource: outcome.tokenSource,
    }));
    let rejected: Set<number>;
    try {
      const result = await this.storeWithRetries(principal, drafts);
      rejected = new Set(result.rejected.map((r) => r.index));
    } catch (error) {
      // nothing was stored: the reservations stay and expire by themselves
      for (const item of items) item.reject(error);
      return;
    }
    // recorded under the proxy's own id, the ingest settled the reservation already
    const toRelease = items.flatMap(({ call }, index) =>
      call.reservationId !== null && drafts[index]!.requestId !== call.plan.proxyRequestId ? [call.reservationId] : [],
    );
    // a failed release leaves reservations that expire by themselves; the records are stored
    if (toRelease.length > 0) await this.quota.releaseAll(principal, toRelease).catch(() => undefined);
    // false: ingest's checks refused the record
    items.forEach((item, index) => item.resolve(!rejected.has(index)));
  }
}

/**
 * Pauses before storing a batch of proxied calls' records again after the database was
 * unavailable or the service too busy to take it (ms, ~16 s in all). Nobody else can retry
 * them: the client has its answer and sent no record. Ingest is idempotent on request ids,
 * so a retry of a batch whose commit was in fact made counts nothing twice.
 */
export const RECORD_RETRY_PAUSES_MS = [250, 500, 1_000, 2_000, 4_000, 8_000];

/** How long a finished call's record waits for others to be stored with. */
export const RECORD_LINGER_MS = 50;
/** Records stored at once at most; more waiting are stored without lingering. */
const MAX_RECORD_BATCH = 500;
/** How long a user's limits are taken as looked up (as API keys are, for 5 s). */
export const LIMITS_TTL_MS = 5_000;
const MAX_KEPT_LIMITS = 10_000;

/** A user's limits as last looked up: when, and whether a newer lookup is under way. */
interface KeptLimits {
  unlimited: Promise<boolean>;
  lookedUpAt: number;
  refreshing: boolean;
}

interface PendingGroup {
  principal: Principal;
  items: Array<{
    call: AdmittedCall;
    outcome: ProxiedCallOutcome;
    resolve(isNew: boolean): void;
    reject(error: unknown): void;
  }>;
}

function principalKey(principal: Principal): string {
  return principal.kind === 'api-key'
    ? `key\u0000${principal.workspaceId}\u0000${principal.keyId}`
    : `user\u0000${principal.workspaceId}\u0000${principal.userId}\u0000${principal.role}`;
}
