import { inject, injectable } from 'tsyringe';
import { costAt, costRates, type CostRates } from '../../domain/cost';
import { priceInForce, type PriceVersion } from '../../domain/model-price';
import type { Principal } from '../../domain/principal';
import type { FieldError } from '../../domain/token-usage';
import { createUsageRecord, type UsageRecord, type UsageRecordDraft } from '../../domain/usage-record';
import type { Clock } from '../ports/clock.port';
import { modelRefKey, type ModelRef, type PriceCatalog } from '../ports/price-catalog.port';
import type { PlanStore } from '../ports/plan-store.port';
import type { Settings } from '../ports/settings.port';
import { TOKENS } from '../ports/tokens';
import type { UsageRepository } from '../ports/usage-repository.port';

/** One element of a batch: a draft whose shape was checked, or the shape errors it had. */
export type BatchItem = UsageRecordDraft | { requestId?: string; errors: FieldError[] };

export interface RejectedRecord {
  index: number;
  requestId?: string;
  errors: FieldError[];
}

export interface IngestResult {
  accepted: number;
  duplicates: number;
  rejected: RejectedRecord[];
}

const DAY_MS = 24 * 60 * 60 * 1000;

@injectable()
export class IngestUsage {
  constructor(
    @inject(TOKENS.UsageRepository) private readonly usage: UsageRepository,
    @inject(TOKENS.PriceCatalog) private readonly catalog: PriceCatalog,
    @inject(TOKENS.Clock) private readonly clock: Clock,
    @inject(TOKENS.Settings) private readonly settings: Settings,
    @inject(TOKENS.PlanStore) private readonly plans: PlanStore,
  ) {}

  /**
   * Checks the batch, then prices and stores the records that passed. Not async itself: while
   * the database works, only those records stay referenced, not the batch and its drafts.
   */
  execute(principal: Principal, items: ReadonlyArray<BatchItem>): Promise<IngestResult> {
    const receivedAt = this.clock.now();
    const oldestAccepted = new Date(receivedAt.getTime() - this.settings.rawRetentionDays * DAY_MS);
    const rejected: RejectedRecord[] = [];
    const records: UsageRecord[] = [];
    const requestIds = new Set<string>();
    let duplicates = 0;

    for (let index = 0; index < items.length; index += 1) {
      const item = items[index]!;
      if ('errors' in item) {
        rejected.push({ index, requestId: item.requestId, errors: item.errors });
        continue;
      }
      const draft = item;
      const owner = resolveOwner(principal, draft.userId);
      if ('error' in owner) {
        rejected.push({ index, requestId: draft.requestId, errors: [owner.error] });
        continue;
      }
      const outcome = createUsageRecord(draft, {
        workspaceId: principal.workspaceId,
        userId: owner.userId,
        receivedAt,
        oldestAccepted,
      });
      if (!outcome.ok) {
        rejected.push({ index, requestId: draft.requestId, errors: outcome.errors });
        continue;
      }
      // first write wins, inside a batch as across batches
      if (requestIds.has(draft.requestId)) {
        duplicates += 1;
        continue;
      }
      requestIds.add(draft.requestId);
      records.push(outcome.record);
    }

    return this.store(principal.workspaceId, records, duplicates, rejected);
  }

  private async store(
    workspaceId: string,
    records: UsageRecord[],
    duplicates: number,
    rejected: RejectedRecord[],
  ): Promise<IngestResult> {
    // a new workspace gets its plans before its first usage is counted against them
    await Promise.all([this.price(workspaceId, records), this.plans.ensureWorkspace(workspaceId)]);
    const inserted = records.length > 0 ? await this.usage.insertNew(workspaceId, records) : 0;
    return { accepted: inserted, duplicates: duplicates + records.length - inserted, rejected };
  }

  /** Prices the records that carry no cost: one catalog lookup per model, rates prepared once per price version. */
  private async price(workspaceId: string, records: UsageRecord[]): Promise<void> {
    const byModel = groupByModel(records.filter((record) => record.costStatus !== 'provided'));
    if (byModel.length === 0) return;
    const schedules = await this.catalog.schedulesFor(
      workspaceId,
      byModel.map((group) => group.ref),
    );
    const rates = new Map<PriceVersion, CostRates>();
    for (const { ref, records: ofModel } of byModel) {
      const found = schedules.get(modelRefKey(ref));
      if (!found) continue;
      for (const record of ofModel) {
        const price = priceInForce(found, record.occurredAt);
        if (!price) continue;
        let prepared = rates.get(price);
        if (!prepared) rates.set(price, (prepared = costRates(price)));
        record.cost = costAt(record, prepared, record.occurredAt);
        record.costStatus = 'computed';
      }
    }
  }
}

interface ModelGroup {
  ref: ModelRef;
  records: UsageRecord[];
}

/** Records by provider and model, in order of first appearance (nested maps: no key string per record). */
function groupByModel(records: ReadonlyArray<UsageRecord>): ModelGroup[] {
  const groups: ModelGroup[] = [];
  const byProvider = new Map<string, Map<string, ModelGroup>>();
  for (const record of records) {
    let byName = byProvider.get(record.provider);
    if (!byName) byProvider.set(record.provider, (byName = new Map()));
    let group = byName.get(record.model);
    if (!group) {
      group = { ref: { provider: record.provider, model: record.model }, records: [] };
      byName.set(record.model, group);
      groups.push(group);
    }
    group.records.push(record);
  }
  return groups;
}

function resolveOwner(principal: Principal, requested: string | undefined): { userId: string } | { error: FieldError } {
  if (principal.kind === 'api-key') {
    return requested
      ? { userId: requested }
      : { error: { path: '/userId', message: 'userId is required when ingesting with an API key' } };
  }
  if (principal.role === 'admin') return { userId: requested ?? principal.userId };
  if (requested !== undefined && requested !== principal.userId) {
    return { error: { path: '/userId', message: 'members may only record their own usage' } };
  }
  return { userId: principal.userId };
}
