import type { Decimal } from './decimal';
import { ValidationError } from './errors';
import { localPeriodStart } from './usage-window';

export type LimitType = 'hard' | 'soft';

/** What a plan allows a user each calendar month of the workspace's zone. */
export interface Plan {
  id: string;
  name: string;
  /** null: unlimited */
  monthlyTokenLimit: number | null;
  /** USD; null: unlimited */
  monthlyCostLimit: Decimal | null;
  limitType: LimitType;
  /** percentages of the limit at which an alert is sent, ascending */
  alertThresholds: number[];
  requestsPerMinute: number | null;
  isDefault: boolean;
}

export type PlanDraft = Omit<Plan, 'id'>;

/** The tiers every workspace starts with; `free` is the default. */
export const STARTER_PLANS: ReadonlyArray<PlanDraft> = [
  ['free', 10_000, true],
  ['basic', 50_000, false],
  ['pro', 200_000, false],
  ['enterprise', 1_000_000, false],
].map(([name, tokens, isDefault]) => ({
  name: name as string,
  monthlyTokenLimit: tokens as number,
  monthlyCostLimit: null,
  limitType: 'hard' as const,
  alertThresholds: [80, 100],
  requestsPerMinute: null,
  isDefault: isDefault as boolean,
}));

export const DEFAULT_ALERT_THRESHOLDS = [80, 100];
export const MAX_ALERT_THRESHOLD = 1000;

/** Thresholds in ascending order, each once; a threshold is a whole percentage of the limit. */
export function alertThresholds(values: ReadonlyArray<number>, path = '/alertThresholds'): number[] {
  const bad = values.findIndex((v) => !Number.isInteger(v) || v < 1 || v > MAX_ALERT_THRESHOLD);
  if (bad >= 0) {
    throw new ValidationError('alert thresholds are whole percentages', [
      { path: `${path}/${bad}`, message: `must be an integer from 1 to ${MAX_ALERT_THRESHOLD}` },
    ]);
  }
  return [...new Set(values)].sort((a, b) => a - b);
}

/** A user's limits: the plan's, unless an override for this user replaces one. */
export interface UserLimits {
  plan: Plan;
  tokenLimit: number | null;
  costLimit: Decimal | null;
}

export interface QuotaPeriod {
  start: Date;
  resetsAt: Date;
}

const DAY_MS = 24 * 60 * 60 * 1000;

/** The calendar month of `zone` that holds `at`: a team in Berlin resets at midnight Berlin time on the 1st. */
export function quotaPeriod(at: Date, zone: string): QuotaPeriod {
  const start = localPeriodStart('month', at, zone);
  return { start, resetsAt: localPeriodStart('month', new Date(start.getTime() + 32 * DAY_MS), zone) };
}

export type QuotaStatus = 'ok' | 'warning' | 'exceeded';

/**
 * The usage percentage of any usage against a limit of 0, which it passes by more than any
 * ratio: JSON has no infinity, so the largest finite double stands for it. It is over 100 and
 * every alert threshold, and sorts above every percentage of a limit above 0.
 */
export const PAST_ZERO_LIMIT_PERCENTAGE = Number.MAX_VALUE;

/**
 * Percent of the limit used, truncated to two decimals; null when unlimited. Against a limit of
 * 0, nothing used is 0 and any usage is PAST_ZERO_LIMIT_PERCENTAGE.
 */
export function usagePercentage(used: Decimal, limit: Decimal | null): number | null {
  if (limit === null) return null;
  if (limit.isZero()) return used.isZero() ? 0 : PAST_ZERO_LIMIT_PERCENTAGE;
  const hundredths = (used.unitsAt(12) * 10_000n) / limit.unitsAt(12);
  return Number(hundredths) / 100;
}

/** ok, warning (past the plan's first alert threshold), or exceeded (at or past a limit). */
export function quotaStatus(percentages: ReadonlyArray<number | null>, thresholds: ReadonlyArray<number>): QuotaStatus {
  const highest = Math.max(-1, ...percentages.map((p) => p ?? -1));
  if (highest >= 100) return 'exceeded';
  if (thresholds.length > 0 && highest >= thresholds[0]!) return 'warning';
  return 'ok';
}

/** How long an unsettled reservation holds budget unless it says otherwise, and at the most. */
export const DEFAULT_RESERVATION_TTL_SECONDS = 600;
export const MAX_RESERVATION_TTL_SECONDS = 3600;
