import { Decimal } from './decimal';
import { checkTokenUsage, type FieldError, type TokenUsage } from './token-usage';

export type CostStatus = 'computed' | 'provided' | 'unpriced';

/** Token counts the provider reported, or counted by a tokenizer when it reported none (a stream cut short). */
export const TOKEN_SOURCES = ['reported', 'estimated'] as const;
export type TokenSource = (typeof TOKEN_SOURCES)[number];

/** One LLM call as stored: who made it, on which model, how many tokens, what it cost. */
export interface UsageRecord extends TokenUsage {
  workspaceId: string;
  requestId: string;
  occurredAt: Date;
  userId: string;
  provider: string;
  model: string;
  operation: string | null;
  totalTokens: number;
  durationMs: number | null;
  success: boolean;
  error: string | null;
  cost: Decimal | null;
  costStatus: CostStatus;
  tokenSource: TokenSource;
  metadata: Record<string, unknown> | null;
}

/** A record as a client sends it, after its shape and bounds were checked. */
export interface UsageRecordDraft {
  requestId: string;
  occurredAt?: Date;
  userId?: string;
  provider: string;
  model: string;
  operation?: string;
  inputTokens: number;
  outputTokens: number;
  cachedInputTokens?: number;
  cacheWriteTokens?: number;
  cacheWrite1hTokens?: number;
  reasoningTokens?: number;
  totalTokens?: number;
  durationMs?: number;
  success?: boolean;
  error?: string;
  cost?: string;
  tokenSource?: TokenSource;
  metadata?: Record<string, unknown>;
}

/** How far ahead of the server clock a record may claim to have happened (client clock skew). */
export const MAX_FUTURE_SKEW_MS = 60 * 60 * 1000;

export interface RecordContext {
  workspaceId: string;
  userId: string;
  receivedAt: Date;
  /** records that happened before this instant are past the raw retention window */
  oldestAccepted: Date;
}

export type RecordOutcome = { ok: true; record: UsageRecord } | { ok: false; errors: FieldError[] };

/**
 * Applies defaults and the invariants a shape check cannot express. A record that carries
 * a cost keeps it ("provided"); any other starts unpriced, until a price is found for it.
 */
export function createUsageRecord(draft: UsageRecordDraft, context: RecordContext): RecordOutcome {
  const inputTokens = draft.inputTokens;
  const outputTokens = draft.outputTokens;
  const cachedInputTokens = draft.cachedInputTokens ?? 0;
  const cacheWriteTokens = draft.cacheWriteTokens ?? 0;
  const cacheWrite1hTokens = draft.cacheWrite1hTokens ?? 0;
  const reasoningTokens = draft.reasoningTokens ?? 0;
  const errors = checkTokenUsage(
    { inputTokens, outputTokens, cachedInputTokens, cacheWriteTokens, cacheWrite1hTokens, reasoningTokens },
    draft.totalTokens,
  );
  const occurredAt = draft.occurredAt ?? context.receivedAt;
  if (occurredAt.getTime() > context.receivedAt.getTime() + MAX_FUTURE_SKEW_MS) {
    errors.push({ path: '/occurredAt', message: 'occurredAt is more than one hour in the future' });
  }
  if (occurredAt.getTime() < context.oldestAccepted.getTime()) {
    errors.push({
      path: '/occurredAt',
      message: `occurredAt is older than the raw retention window (before ${context.oldestAccepted.toISOString()})`,
    });
  }
  let providedCost: Decimal | null = null;
  if (draft.cost !== undefined) {
    providedCost = Decimal.isValid(draft.cost) ? Decimal.parse(draft.cost) : null;
    if (!providedCost || providedCost.isNegative()) {
      errors.push({ path: '/cost', message: 'cost must be a non-negative decimal number of USD' });
    }
  }
  if (errors.length > 0) return { ok: false, errors };
  // built field by field: object spread and rest are slow on this per-record path
  return {
    ok: true,
    record: {
      workspaceId: context.workspaceId,
      requestId: draft.requestId,
      occurredAt,
      userId: context.userId,
      provider: normalized(draft.provider),
      model: normalized(draft.model),
      operation: draft.operation === undefined ? null : normalized(draft.operation),
      inputTokens,
      outputTokens,
      cachedInputTokens,
      cacheWriteTokens,
      cacheWrite1hTokens,
      reasoningTokens,
      totalTokens: inputTokens + outputTokens,
      durationMs: draft.durationMs ?? null,
      success: draft.success ?? draft.error === undefined,
      error: draft.error ?? null,
      cost: providedCost,
      costStatus: providedCost ? 'provided' : 'unpriced',
      tokenSource: draft.tokenSource ?? 'reported',
      metadata: draft.metadata ?? null,
    },
  };
}

/** Upper case, anything but printable ASCII, or a space at either end: what trim and toLowerCase may change. */
const MAY_CHANGE = /[A-Z]|[^ -~]|^\s|\s$/;

/**
 * A name trimmed and in lower case. Most arrive so already and are kept as they are:
 * toLowerCase copies even a string it does not change.
 */
function normalized(name: string): string {
  return MAY_CHANGE.test(name) ? name.trim().toLowerCase() : name;
}
