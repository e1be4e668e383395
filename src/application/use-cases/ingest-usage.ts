import { inject, injectable } from 'tsyringe';
import { computeCost } from '../../domain/cost';
import { priceInForce } from '../../domain/model-price';
import type { Principal } from '../../domain/principal';
import type { FieldError } from '../../domain/token-usage';
import { createUsageRecord, type UsageRecord, type UsageRecordDraft } from '../../domain/usage-record';
import type { Clock } from '../ports/clock.port';
import { modelRefKey, type PriceCatalog } from '../ports/price-catalog.port';
import type { Settings } from '../ports/settings.port';
import { TOKENS } from '../ports/tokens';
import type { UsageRepository } from '../ports/usage-repository.port';

/** One element of a batch: a draft whose shape was checked, or the shape errors it had. */
export type BatchItem = { draft: UsageRecordDraft } | { requestId?: string; errors: FieldError[] };

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
  ) {}

  async execute(principal: Principal, items: ReadonlyArray<BatchItem>): Promise<IngestResult> {
    const receivedAt = this.clock.now();
    const oldestAccepted = new Date(receivedAt.getTime() - this.settings.rawRetentionDays * DAY_MS);
    const rejected: RejectedRecord[] = [];
    const fresh = new Map<string, { index: number; record: ReturnType<typeof unpriced> }>();
    let duplicates = 0;

    items.forEach((item, index) => {
      if ('errors' in item) {
        rejected.push({ index, requestId: item.requestId, errors: item.errors });
        return;
      }
      const { draft } = item;
      const owner = resolveOwner(principal, draft.userId);
      if ('error' in owner) {
        rejected.push({ index, requestId: draft.requestId, errors: [owner.error] });
        return;
      }
      const outcome = createUsageRecord(draft, {
        workspaceId: principal.workspaceId,
        userId: owner.userId,
        receivedAt,
        oldestAccepted,
      });
      if (!outcome.ok) {
        rejected.push({ index, requestId: draft.requestId, errors: outcome.errors });
        return;
      }
      // first write wins, inside a batch as across batches
      if (fresh.has(draft.requestId)) {
        duplicates += 1;
        return;
      }
      fresh.set(draft.requestId, { index, record: unpriced(outcome.record) });
    });

    const records = [...fresh.values()].map((entry) => entry.record);
    await this.price(principal.workspaceId, records);
    const inserted = records.length > 0 ? await this.usage.insertNew(principal.workspaceId, records) : 0;
    return { accepted: inserted, duplicates: duplicates + records.length - inserted, rejected };
  }

  private async price(workspaceId: string, records: UsageRecord[]): Promise<void> {
    const needPrice = records.filter((record) => record.costStatus !== 'provided');
    if (needPrice.length === 0) return;
    const schedules = await this.catalog.schedulesFor(workspaceId, needPrice);
    for (const record of needPrice) {
      const found = schedules.get(modelRefKey(record));
      const price = found ? priceInForce(found, record.occurredAt) : null;
      if (price) {
        record.cost = computeCost(record, price);
        record.costStatus = 'computed';
      }
    }
  }
}

function unpriced(
  record: Omit<UsageRecord, 'cost' | 'costStatus'> & { providedCost: UsageRecord['cost'] },
): UsageRecord {
  const { providedCost, ...rest } = record;
  return providedCost
    ? { ...rest, cost: providedCost, costStatus: 'provided' }
    : { ...rest, cost: null, costStatus: 'unpriced' };
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
