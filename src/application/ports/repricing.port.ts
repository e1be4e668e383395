import type { Decimal } from '../../domain/decimal';
import type { EffectiveRates } from '../../domain/cost';
import type { ModelRef } from './price-catalog.port';

/** One stretch of time in which a model's records are priced at `rates` (null: unpriced). */
export interface PricedStretch extends ModelRef {
  from: Date | null;
  to: Date | null;
  /** per million tokens, each null rate already replaced by its fallback */
  rates: EffectiveRates | null;
  /** the price's long-context tier: its rates for a call with more input tokens than `above` */
  longContext: { above: number; rates: EffectiveRates } | null;
  /** the part of the UTC day [startSecond, endSecond) these rates hold in; null: all day */
  partOfDay: { startSecond: number; endSecond: number } | null;
}

export interface RepricingRange {
  workspaceId: string;
  from: Date;
  to: Date;
  provider?: string;
  model?: string;
}

export interface ModelRepricing extends ModelRef {
  records: number;
  tokens: number;
  costBefore: Decimal;
  costAfter: Decimal;
  repriced: number;
  newlyPriced: number;
  newlyUnpriced: number;
  unpricedBefore: number;
  unpricedAfter: number;
}

export interface RepricingTotals {
  records: number;
  repriced: number;
  costBefore: Decimal;
  costAfter: Decimal;
  unpricedBefore: number;
  unpricedAfter: number;
}

/** The totals of a re-pricing over its models. */
export function repricingTotals(models: ReadonlyArray<ModelRepricing>, zero: Decimal): RepricingTotals {
  return {
    records: models.reduce((n, m) => n + m.records, 0),
    repriced: models.reduce((n, m) => n + m.repriced, 0),
    costBefore: models.reduce((a, m) => a.plus(m.costBefore), zero),
    costAfter: models.reduce((a, m) => a.plus(m.costAfter), zero),
    unpricedBefore: models.reduce((n, m) => n + m.unpricedBefore, 0),
    unpricedAfter: models.reduce((n, m) => n + m.unpricedAfter, 0),
  };
}

export interface SkippedHours {
  from: Date;
  to: Date;
  reason: string;
}

export interface RepricingOutcome {
  /** the audit entry's id; null for a dry run */
  id: string | null;
  models: ModelRepricing[];
  skippedHours: SkippedHours[];
}

export interface RepricingRun extends RepricingRange {
  id: string;
  createdAt: Date;
  createdBy: string;
  models: ModelRepricing[];
  skippedHours: SkippedHours[];
}

export interface RepricingStore {
  /** every (provider, model) with usage in the range, as its records name it */
  modelsSeen(range: RepricingRange): Promise<ModelRef[]>;
  /**
   * Prices every record of the range whose cost is not the client's at the stretches given.
   * A dry run answers what would change; otherwise the records, the rollups and an audit
   * entry by `createdBy` change together; the budget alerts a changed quota count sends carry
   * cost when `showsCost`.
   */
  reprice(
    range: RepricingRange,
    stretches: PricedStretch[],
    apply: { createdBy: string; showsCost: boolean } | null,
  ): Promise<RepricingOutcome>;
  runs(workspaceId: string, limit: number, offset: number): Promise<{ items: RepricingRun[]; total: number }>;
  run(workspaceId: string, id: string): Promise<RepricingRun | null>;
}
