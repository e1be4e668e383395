import type { ModelKind, PriceVersion } from '../../domain/model-price';

export interface ModelRef {
  provider: string;
  model: string;
}

export interface CatalogModel {
  id: string;
  provider: string;
  model: string;
  kind: ModelKind;
  /** "workspace" for a workspace's own entry, otherwise the catalog source it was seeded from */
  source: string;
  prices: PriceVersion[];
}

export interface NewModel {
  provider: string;
  model: string;
  kind: ModelKind;
  price: PriceVersion;
}

export interface ModelFilter {
  provider?: string;
  search?: string;
  kind?: ModelKind;
  limit: number;
  offset: number;
}

export interface PriceCatalog {
  /**
   * Price schedules for each reported model, most specific first (the workspace's own
   * entry, then the built-in catalog), keyed by `${provider}\u0000${model}` of the input.
   * Models found nowhere are absent.
   */
  schedulesFor(workspaceId: string, refs: ReadonlyArray<ModelRef>): Promise<Map<string, PriceVersion[][]>>;
  /**
   * One model's schedules as `schedulesFor` finds them, for estimates before a call: reused for a
   * short while, so a price or model added on another instance may be seen a little later (one
   * added through this instance is seen at once). Never for recorded usage, which is exact.
   */
  recentSchedulesFor(workspaceId: string, ref: ModelRef): Promise<PriceVersion[][] | undefined>;
  /**
   * The (provider, model) entries `schedulesFor` looks a reported model up under, the most exact
   * first (its name, the names stripped of snapshot suffixes, the catalog source's own match).
   */
  lookupNames(ref: ModelRef): ModelRef[];
  list(workspaceId: string, filter: ModelFilter): Promise<{ items: CatalogModel[]; total: number }>;
  create(workspaceId: string, model: NewModel): Promise<CatalogModel>;
  addPrice(workspaceId: string, modelId: string, price: PriceVersion): Promise<CatalogModel>;
}

export function modelRefKey(ref: ModelRef): string {
  return `${ref.provider}\u0000${ref.model}`;
}
