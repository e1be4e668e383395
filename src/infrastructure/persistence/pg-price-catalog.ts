import { randomUUID } from 'node:crypto';
import { inject, injectable } from 'tsyringe';
import { DataSource, type EntityManager } from 'typeorm';
import {
  modelRefKey,
  type CatalogModel,
  type ModelFilter,
  type ModelRef,
  type NewModel,
  type PriceCatalog,
} from '../../application/ports/price-catalog.port';
import { Decimal } from '../../domain/decimal';
import { ConflictError, NotFoundError } from '../../domain/errors';
import { modelLookupKeys, normalizeProvider } from '../../domain/model-name';
import type { ModelKind, PriceVersion } from '../../domain/model-price';

/** The built-in catalog's rows belong to this workspace id, which no caller can have. */
export const BUILT_IN_WORKSPACE = '';

interface PriceRow {
  effective_from: Date;
  input_per_million: string;
  output_per_million: string;
  cached_input_per_million: string | null;
  cache_write_per_million: string | null;
  reasoning_per_million: string | null;
}

interface ModelRow {
  workspace_id: string;
  id: string;
  provider: string;
  model: string;
  kind: ModelKind;
  source: string;
  prices: Array<Omit<PriceRow, 'effective_from'> & { effective_from: string }>;
}

const optional = (value: string | null): Decimal | null => (value === null ? null : Decimal.parse(value));

function toPrice(row: Omit<PriceRow, 'effective_from'> & { effective_from: Date | string }): PriceVersion {
  return {
    effectiveFrom: new Date(row.effective_from),
    inputPerMillion: Decimal.parse(row.input_per_million),
    outputPerMillion: Decimal.parse(row.output_per_million),
    cachedInputPerMillion: optional(row.cached_input_per_million),
    cacheWritePerMillion: optional(row.cache_write_per_million),
    reasoningPerMillion: optional(row.reasoning_per_million),
  };
}

function toModel(row: ModelRow): CatalogModel {
  return {
    id: row.id,
    provider: row.provider,
    model: row.model,
    kind: row.kind,
    source: row.source,
    prices: row.prices.map(toPrice).sort((a, b) => a.effectiveFrom.getTime() - b.effectiveFrom.getTime()),
  };
}

/** Numeric-safe (PostgreSQL numeric strings decode back exactly) model + prices projection. */
const MODEL_WITH_PRICES = `
  SELECT m.workspace_id, m.id, m.provider, m.model, m.kind, m.source,
    (SELECT json_agg(json_build_object(
        'effective_from', p.effective_from,
        'input_per_million', p.input_per_million::text,
        'output_per_million', p.output_per_million::text,
        'cached_input_per_million', p.cached_input_per_million::text,
        'cache_write_per_million', p.cache_write_per_million::text,
        'reasoning_per_million', p.reasoning_per_million::text) ORDER BY p.effective_from)
     FROM model_prices p WHERE p.workspace_id = m.workspace_id AND p.model_id = m.id) AS prices
  FROM models m`;

@injectable()
export class PgPriceCatalog implements PriceCatalog {
  constructor(@inject(DataSource) private readonly db: DataSource) {}

  async schedulesFor(workspaceId: string, refs: ReadonlyArray<ModelRef>): Promise<Map<string, PriceVersion[][]>> {
    const unique = new Map<string, { providers: string[]; keys: string[] }>();
    for (const ref of refs) {
      const key = modelRefKey(ref);
      if (unique.has(key)) continue;
      unique.set(key, {
        providers: [...new Set([ref.provider, normalizeProvider(ref.provider)])],
        keys: modelLookupKeys(ref.model),
      });
    }
    const providers = [...new Set([...unique.values()].flatMap((u) => u.providers))];
    const names = [...new Set([...unique.values()].flatMap((u) => u.keys))];
    const rows = (await this.db.query(
      `SELECT m.workspace_id, m.provider, m.model, p.effective_from, p.input_per_million::text,
              p.output_per_million::text, p.cached_input_per_million::text, p.cache_write_per_million::text,
              p.reasoning_per_million::text
       FROM models m JOIN model_prices p ON p.workspace_id = m.workspace_id AND p.model_id = m.id
       WHERE m.workspace_id IN ($1, $2) AND m.provider = ANY($3) AND m.model = ANY($4)`,
      [workspaceId, BUILT_IN_WORKSPACE, providers, names],
    )) as Array<PriceRow & { workspace_id: string; provider: string; model: string }>;

    const found = new Map<string, PriceVersion[]>();
    for (const row of rows) {
      const key = `${row.workspace_id}\u0000${row.provider}\u0000${row.model}`;
      const list = found.get(key) ?? [];
      list.push(toPrice(row));
      found.set(key, list);
    }
    const result = new Map<string, PriceVersion[][]>();
    for (const [refKey, { providers: candidates, keys }] of unique) {
      // a workspace's own entries come before the built-in catalog, then the most exact name
      const schedules: PriceVersion[][] = [];
      for (const owner of [workspaceId, BUILT_IN_WORKSPACE]) {
        for (const name of keys) {
          for (const provider of candidates) {
            const versions = found.get(`${owner}\u0000${provider}\u0000${name}`);
            if (versions) schedules.push(versions);
          }
        }
      }
      if (schedules.length > 0) result.set(refKey, schedules);
    }
    return result;
  }

  async list(workspaceId: string, filter: ModelFilter): Promise<{ items: CatalogModel[]; total: number }> {
    // a workspace's own entry hides the built-in one with the same provider and model
    const visible = `
      SELECT m.workspace_id, m.id, m.provider, m.model FROM models m
      WHERE (m.workspace_id = $1 OR (m.workspace_id = $2 AND NOT EXISTS (
               SELECT 1 FROM models o WHERE o.workspace_id = $1 AND o.provider = m.provider AND o.model = m.model)))
        AND ($3::text IS NULL OR m.provider = $3)
        AND ($4::text IS NULL OR m.model ILIKE '%' || $4 || '%')
        AND ($5::text IS NULL OR m.kind = $5)`;
    const params = [
      workspaceId,
      BUILT_IN_WORKSPACE,
      filter.provider?.toLowerCase() ?? null,
      filter.search ? filter.search.replace(/[\\%_]/g, (c) => `\\${c}`) : null,
      filter.kind ?? null,
    ];
    const [counted] = (await this.db.query(`SELECT count(*)::int AS total FROM (${visible}) v`, params)) as Array<{
      total: number;
    }>;
    const rows = (await this.db.query(
      `WITH page AS (${visible} ORDER BY m.provider, m.model LIMIT $6 OFFSET $7)
       ${MODEL_WITH_PRICES} JOIN page USING (workspace_id, id) ORDER BY m.provider, m.model`,
      [...params, filter.limit, filter.offset],
    )) as ModelRow[];
    return { items: rows.map(toModel), total: counted?.total ?? 0 };
  }

  async create(workspaceId: string, model: NewModel): Promise<CatalogModel> {
    return this.db.transaction(async (tx) => {
      const id = randomUUID();
      const inserted = (await tx.query(
        `INSERT INTO models (workspace_id, id, provider, model, kind, source)
         VALUES ($1, $2, $3, $4, $5, 'workspace') ON CONFLICT DO NOTHING RETURNING id`,
        [workspaceId, id, model.provider.toLowerCase(), model.model.toLowerCase(), model.kind],
      )) as unknown[];
      if (inserted.length === 0) {
        throw new ConflictError(
          `model ${model.provider}/${model.model} already exists in this workspace; add a price version to it instead`,
        );
      }
      await insertPrice(tx, workspaceId, id, model.price);
      return this.load(tx, workspaceId, id);
    });
  }

  async addPrice(workspaceId: string, modelId: string, price: PriceVersion): Promise<CatalogModel> {
    return this.db.transaction(async (tx) => {
      let target = (await tx.query(
        `SELECT workspace_id, id, provider, model, kind FROM models
         WHERE id = $1 AND workspace_id IN ($2, $3) ORDER BY workspace_id = $2 DESC LIMIT 1`,
        [modelId, workspaceId, BUILT_IN_WORKSPACE],
      )) as Array<{ workspace_id: string; id: string; provider: string; model: string; kind: ModelKind }>;
      const found = target[0];
      if (!found) throw new NotFoundError(`no model with id ${modelId}`);
      let id = found.id;
      if (found.workspace_id !== workspaceId) {
        // pricing a built-in model creates (or extends) this workspace's own entry for it
        target = (await tx.query(
          `INSERT INTO models (workspace_id, id, provider, model, kind, source) VALUES ($1, $2, $3, $4, $5, 'workspace')
           ON CONFLICT (workspace_id, provider, model) DO UPDATE SET kind = models.kind RETURNING id`,
          [workspaceId, randomUUID(), found.provider, found.model, found.kind],
        )) as typeof target;
        id = target[0]!.id;
      }
      await insertPrice(tx, workspaceId, id, price);
      return this.load(tx, workspaceId, id);
    });
  }

  private async load(tx: EntityManager, workspaceId: string, id: string): Promise<CatalogModel> {
    const rows = (await tx.query(`${MODEL_WITH_PRICES} WHERE m.workspace_id = $1 AND m.id = $2`, [
      workspaceId,
      id,
    ])) as ModelRow[];
    return toModel(rows[0]!);
  }
}

async function insertPrice(
  tx: EntityManager,
  workspaceId: string,
  modelId: string,
  price: PriceVersion,
): Promise<void> {
  const inserted = (await tx.query(
    `INSERT INTO model_prices (workspace_id, model_id, effective_from, input_per_million, output_per_million,
       cached_input_per_million, cache_write_per_million, reasoning_per_million)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING RETURNING model_id`,
    [
      workspaceId,
      modelId,
      price.effectiveFrom.toISOString(),
      price.inputPerMillion.toString(),
      price.outputPerMillion.toString(),
      price.cachedInputPerMillion?.toString() ?? null,
      price.cacheWritePerMillion?.toString() ?? null,
      price.reasoningPerMillion?.toString() ?? null,
    ],
  )) as unknown[];
  if (inserted.length === 0) {
    throw new ConflictError(`the model already has a price version from ${price.effectiveFrom.toISOString()}`);
  }
}
