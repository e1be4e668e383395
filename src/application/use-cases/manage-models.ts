import { inject, injectable } from 'tsyringe';
import { showsCost } from '../../domain/deployment-mode';
import type { PriceVersion } from '../../domain/model-price';
import type { CatalogModel, ModelFilter, NewModel, PriceCatalog } from '../ports/price-catalog.port';
import type { Settings } from '../ports/settings.port';
import { TOKENS } from '../ports/tokens';
import { RepriceUsage, type HistoryEffect } from './reprice-usage';

/** A model as added, with what re-pricing the raw window would change (null where cost is not shown). */
export interface ModelChange {
  model: CatalogModel;
  history: HistoryEffect | null;
}

/** The model catalog as a workspace sees it: the built-in catalog with its own entries on top. */
@injectable()
export class ManageModels {
  constructor(
    @inject(TOKENS.PriceCatalog) private readonly catalog: PriceCatalog,
    @inject(RepriceUsage) private readonly repricing: RepriceUsage,
    @inject(TOKENS.Settings) private readonly settings: Settings,
  ) {}

  list(workspaceId: string, filter: ModelFilter): Promise<{ items: CatalogModel[]; total: number }> {
    return this.catalog.list(workspaceId, filter);
  }

  async create(workspaceId: string, model: NewModel): Promise<ModelChange> {
    return this.withHistory(workspaceId, await this.catalog.create(workspaceId, model));
  }

  /** A new price version from its `effectiveFrom` on; for a built-in model, as a workspace override. */
  async addPrice(workspaceId: string, modelId: string, price: PriceVersion): Promise<ModelChange> {
    return this.withHistory(workspaceId, await this.catalog.addPrice(workspaceId, modelId, price));
  }

  /** Recorded history is never re-priced by itself: the answer says what a re-pricing would change. */
  private async withHistory(workspaceId: string, model: CatalogModel): Promise<ModelChange> {
    if (!showsCost(this.settings.deploymentMode)) return { model, history: null };
    return { model, history: await this.repricing.effectOfNewPrice(workspaceId, model) };
  }
}
