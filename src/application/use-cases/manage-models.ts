import { inject, injectable } from 'tsyringe';
import type { PriceVersion } from '../../domain/model-price';
import type { CatalogModel, ModelFilter, NewModel, PriceCatalog } from '../ports/price-catalog.port';
import { TOKENS } from '../ports/tokens';

/** The model catalog as a workspace sees it: the built-in catalog with its own entries on top. */
@injectable()
export class ManageModels {
  constructor(@inject(TOKENS.PriceCatalog) private readonly catalog: PriceCatalog) {}

  list(workspaceId: string, filter: ModelFilter): Promise<{ items: CatalogModel[]; total: number }> {
    return this.catalog.list(workspaceId, filter);
  }

  create(workspaceId: string, model: NewModel): Promise<CatalogModel> {
    return this.catalog.create(workspaceId, model);
  }

  /** A new price version from its `effectiveFrom` on; for a built-in model, as a workspace override. */
  addPrice(workspaceId: string, modelId: string, price: PriceVersion): Promise<CatalogModel> {
    return this.catalog.addPrice(workspaceId, modelId, price);
  }
}
