import { inject, injectable } from 'tsyringe';
import { effectiveRates } from '../../domain/cost';
import { Decimal } from '../../domain/decimal';
import { showsCost } from '../../domain/deployment-mode';
import { NotFoundError, ValidationError } from '../../domain/errors';
import { normalizeProvider } from '../../domain/model-name';
import { dayParts, priceSegments, type PriceVersion } from '../../domain/model-price';
import type { Clock } from '../ports/clock.port';
import { modelRefKey, type ModelRef, type PriceCatalog } from '../ports/price-catalog.port';
import {
  repricingTotals,
  type PricedStretch,
  type RepricingOutcome,
  type RepricingRange,
  type RepricingRun,
  type RepricingStore,
  type RepricingTotals,
} from '../ports/repricing.port';
import type { Settings } from '../ports/settings.port';
import { TOKENS } from '../ports/tokens';

export interface RepricingRequest {
  from: string;
  to: string;
  provider?: string;
  model?: string;
  dryRun: boolean;
}

export interface RepricingReport extends RepricingOutcome {
  range: RepricingRange;
  dryRun: boolean;
  totals: RepricingTotals;
}

/** What adding a price would do to the records of the raw window, had they been re-priced. */
export interface HistoryEffect {
  from: Date;
  to: Date;
  /** unpriced records that would be priced */
  wouldPrice: number;
  /** records whose cost would change, those included */
  wouldChange: number;
}

const DAY_MS = 86_400_000;

function instant(value: string, path: string): Date {
  const date = new Date(value);
  if (Number.isNaN(date.getTime()))
    throw new ValidationError(`${path.slice(1)} is not an instant`, [{ path, message: 'must be a date-time' }]);
  return date;
}

/**
 * Re-pricing: every record of a range whose cost the service computed (never one the client
 * sent) priced again at the price version in force at its time, found as ingest finds it
 * (the workspace's own entry before the built-in catalog, the most exact name first).
 */
@injectable()
export class RepriceUsage {
  constructor(
    @inject(TOKENS.RepricingStore) private readonly store: RepricingStore,
    @inject(TOKENS.PriceCatalog) private readonly catalog: PriceCatalog,
    @inject(TOKENS.Clock) private readonly clock: Clock,
    @inject(TOKENS.Settings) private readonly settings: Settings,
  ) {}

  async execute(workspaceId: string, actor: string, request: RepricingRequest): Promise<RepricingReport> {
    const range: RepricingRange = {
      workspaceId,
      from: instant(request.from, '/from'),
      to: instant(request.to, '/to'),
      ...(request.provider !== undefined && { provider: request.provider.trim().toLowerCase() }),
      ...(request.model !== undefined && { model: request.model.trim().toLowerCase() }),
    };
    if (range.from.getTime() >= range.to.getTime()) {
      throw new ValidationError('from must be before to', [{ path: '/from', message: 'must be before to' }]);
    }
    const refs = await this.store.modelsSeen(range);
    const outcome = await this.store.reprice(
      range,
      await this.stretches(workspaceId, refs),
      request.dryRun ? null : { createdBy: actor, showsCost: showsCost(this.settings.deploymentMode) },
    );
    return { ...outcome, range, dryRun: request.dryRun, totals: repricingTotals(outcome.models, Decimal.parse('0')) };
  }

  /**
   * After a model or price was added: what re-pricing the raw window would change for the
   * records the new entry prices (those whose name it matches as ingest would match it).
   */
  async effectOfNewPrice(workspaceId: string, added: ModelRef): Promise<HistoryEffect> {
    const to = this.clock.now();
    const from = new Date(to.getTime() - this.settings.rawRetentionDays * DAY_MS);
    const range: RepricingRange = { workspaceId, from, to };
    const provider = normalizeProvider(added.provider);
    const refs = (await this.store.modelsSeen(range)).filter((ref) =>
      this.catalog
        .lookupNames(ref)
        .some((name) => normalizeProvider(name.provider) === provider && name.model === added.model),
    );
    const { models } = await this.store.reprice(range, await this.stretches(workspaceId, refs), null);
    return {
      from,
      to,
      wouldPrice: models.reduce((n, m) => n + m.newlyPriced, 0),
      wouldChange: models.reduce((n, m) => n + m.repriced, 0),
    };
  }

  async runs(workspaceId: string, limit: number, offset: number): Promise<{ items: RepricingRun[]; total: number }> {
    return this.store.runs(workspaceId, limit, offset);
  }

  async run(workspaceId: string, id: string): Promise<RepricingRun> {
    const run = await this.store.run(workspaceId, id);
    if (!run) throw new NotFoundError(`no re-pricing with id ${id}`);
    return run;
  }

  /** Each model's price schedule over all time, as stretches (pricedStretches). */
  private async stretches(workspaceId: string, refs: ModelRef[]): Promise<PricedStretch[]> {
    if (refs.length === 0) return [];
    const schedules = await this.catalog.schedulesFor(workspaceId, refs);
    return refs.flatMap((ref) => pricedStretches(ref, schedules.get(modelRefKey(ref)) ?? []));
  }
}

/**
 * A model's price schedules over all time as stretches of one price (or none), a version with
 * daily windows cut into the parts of the UTC day each set of its rates holds in.
 */
export function pricedStretches(ref: ModelRef, schedules: ReadonlyArray<ReadonlyArray<PriceVersion>>): PricedStretch[] {
  return priceSegments(schedules).flatMap((segment): PricedStretch[] => {
    const stretch = { provider: ref.provider, model: ref.model, from: segment.from, to: segment.to };
    const price = segment.price;
    if (!price) return [{ ...stretch, rates: null, longContext: null, partOfDay: null }];
    const parts = dayParts(price);
    return parts.map((part) => ({
      ...stretch,
      rates: effectiveRates(part.window ?? price),
      longContext:
        part.window === null && price.longContext
          ? { above: price.longContext.aboveInputTokens, rates: effectiveRates(price.longContext) }
          : null,
      partOfDay: parts.length === 1 ? null : { startSecond: part.startSecond, endSecond: part.endSecond },
    }));
  });
}
