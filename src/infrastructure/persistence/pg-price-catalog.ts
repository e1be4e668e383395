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
import type { PriceRates, PriceVersion } from '../../domain/model-price';
import { packageCatalogMatch } from '../catalog/genai-prices-match';
import { ModelEntity, ModelPriceEntity, ModelPriceWindowEntity } from './entities';
import { sayingUnavailable } from './database-unavailable';
import { poolOf, prepared, runPrepared } from './prepared-statements';

/** The built-in catalog's rows belong to this workspace id, which no caller can have. */
export const BUILT_IN_WORKSPACE = '';

/** A price version's rates: each as the entity (and the SQL below) names it, and its column. */
export const RATES = {
  inputPerMillion: 'input_per_million',
  outputPerMillion: 'output_per_million',
  cachedInputPerMillion: 'cached_input_per_million',
  cacheWritePerMillion: 'cache_write_per_million',
  cacheWrite1hPerMillion: 'cache_write_1h_per_million',
  reasoningPerMillion: 'reasoning_per_million',
} as const satisfies Partial<Record<keyof ModelPriceEntity & keyof PriceVersion, string>>;
type Rate = keyof typeof RATES;
export const RATE_NAMES = Object.keys(RATES) as Rate[];
/** The column of the long-context threshold; each tier rate's column is its rate's, prefixed. */
export const LONG_CONTEXT_ABOVE_COLUMN = 'long_context_above_input_tokens';
export const longContextColumn = (rate: Rate): string => `long_context_${RATES[rate]}`;

/** The long-context tier's rates, as the entity names them; each column is the rate's, prefixed. */
const LONG_CONTEXT_RATES = {
  inputPerMillion: 'longContextInputPerMillion',
  outputPerMillion: 'longContextOutputPerMillion',
  cachedInputPerMillion: 'longContextCachedInputPerMillion',
  cacheWritePerMillion: 'longContextCacheWritePerMillion',
  cacheWrite1hPerMillion: 'longContextCacheWrite1hPerMillion',
  reasoningPerMillion: 'longContextReasoningPerMillion',
} as const satisfies Record<Rate, keyof ModelPriceEntity>;
type LongContextRate = (typeof LONG_CONTEXT_RATES)[Rate];
const LONG_CONTEXT_ABOVE = 'longContextAboveInputTokens' satisfies keyof ModelPriceEntity;

/** Every price column but the key: the entity's name and the column, rates as exact decimal text. */
const PRICE_COLUMNS: Array<[string, string]> = [
  ...RATE_NAMES.map((name): [string, string] => [name, RATES[name]]),
  [LONG_CONTEXT_ABOVE, LONG_CONTEXT_ABOVE_COLUMN],
  ...RATE_NAMES.map((name): [string, string] => [LONG_CONTEXT_RATES[name], longContextColumn(name)]),
];
/** model_prices' columns but the key, in PRICE_COLUMNS' order (the built-in catalog's bulk load writes them). */
export const PRICE_COLUMN_NAMES = PRICE_COLUMNS.map(([, column]) => column);

/** A price's rates as exact decimal text (all null without a price), each under the name `key` gives it. */
function ratesAsText<K extends string>(rates: PriceRates | null, key: (rate: Rate) => K): Record<K, string | null> {
  return Object.fromEntries(RATE_NAMES.map((rate) => [key(rate), rates?.[rate]?.toString() ?? null])) as Record<
    K,
    string | null
  >;
}
/** A version's windows (`model_price_windows`) as a JSON list in their order, rates as exact decimal text. */
const WINDOWS_OF_PRICE = `(SELECT json_agg(json_build_object('startSecond', w.start_second, 'endSecond', w.end_second,
    ${RATE_NAMES.map((name) => `'${name}', w.${RATES[name]}::text`).join(', ')}) ORDER BY w.position)
  FROM model_price_windows w
  WHERE w.workspace_id = p.workspace_id AND w.model_id = p.model_id AND w.effective_from = p.effective_from)`;

/** The prices of `model_prices p` as text, each named as the entity names it, and the version's windows. */
const RATE_SELECT = [
  ...PRICE_COLUMNS.map(([name, column]) => `p.${column}::text AS "${name}"`),
  `${WINDOWS_OF_PRICE} AS "timeOfDay"`,
].join(', ');

/** A price version's columns, as the entity holds them or as the SQL below names them (all text). */
type PriceFields = Pick<ModelPriceEntity, Rate | LongContextRate> & {
  effectiveFrom: Date | string;
  longContextAboveInputTokens: number | string | null;
  timeOfDay: Array<Pick<ModelPriceWindowEntity, Rate | 'startSecond' | 'endSecond'>> | null;
};

/** A model with its price versions, as the entity holds it or as the catalog list reads it. */
type ModelFields = Pick<ModelEntity, 'id' | 'provider' | 'model' | 'kind' | 'source'> & {
  prices: PriceFields[] | null;
};

const optional = (value: string | null): Decimal | null => (value === null ? null : Decimal.parse(value));

function toRates(rate: (name: Rate) => string | null): PriceRates {
  return {
    inputPerMillion: Decimal.parse(rate('inputPerMillion')!),
    outputPerMillion: Decimal.parse(rate('outputPerMillion')!),
    cachedInputPerMillion: optional(rate('cachedInputPerMillion')),
    cacheWritePerMillion: optional(rate('cacheWritePerMillion')),
    cacheWrite1hPerMillion: optional(rate('cacheWrite1hPerMillion')),
    reasoningPerMillion: optional(rate('reasoningPerMillion')),
  };
}

function toPrice(row: PriceFields): PriceVersion {
  const above = row.longContextAboveInputTokens;
  return {
    effectiveFrom: new Date(row.effectiveFrom),
    ...toRates((name) => row[name]),
    // the table's CHECK keeps the tier whole: a threshold has its input and output rates
    longContext:
      above === null ? null : { aboveInputTokens: Number(above), ...toRates((name) => row[LONG_CONTEXT_RATES[name]]) },
    timeOfDay: (row.timeOfDay ?? []).map((w) => ({
      startSecond: w.startSecond,
      endSecond: w.endSecond,
      ...toRates((name) => w[name]),
    })),
  };
}

function toModel(row: ModelFields): CatalogModel {
  return {
    id: row.id,
    provider: row.provider,
    model: row.model,
    kind: row.kind,
    source: row.source,
    prices: (row.prices ?? []).map(toPrice).sort((a, b) => a.effectiveFrom.getTime() - b.effectiveFrom.getTime()),
  };
}

/** A unique key was violated: the row is there already. */
function isUniqueViolation(error: unknown): boolean {
  const failure = error as { code?: unknown; driverError?: { code?: unknown } };
  return (failure.code ?? failure.driverError?.code) === '23505';
}

/**
 * The catalog page's models with their price versions as JSON; numeric prices go through
 * text, so they decode back exactly (a JSON number would become a float).
 */
const MODEL_WITH_PRICES = `
  SELECT m.id, m.provider, m.model, m.kind, m.source,
    (SELECT json_agg(json_build_object('effectiveFrom', p.effective_from,
        ${PRICE_COLUMNS.map(([name, column]) => `'${name}', p.${column}::text`).join(', ')},
        'timeOfDay', ${WINDOWS_OF_PRICE}) ORDER BY p.effective_from)
     FROM model_prices p WHERE p.workspace_id = m.workspace_id AND p.model_id = m.id) AS prices
  FROM models m`;

/**
 * The catalog entries a reported model is looked up under, the most exact first: its own name and
 * the names `modelLookupKeys` strips it to, under its provider and that provider's alias, then
 * the entry the catalog source's own match logic picks for it (`claude-sonnet-4-20250514` →
 * anthropic `claude-sonnet-4-0`), if that is not among them already.
 */
export function catalogLookupNames(ref: ModelRef): ModelRef[] {
  const providers = [...new Set([ref.provider, normalizeProvider(ref.provider)])];
  const names = modelLookupKeys(ref.model).flatMap((model) => providers.map((provider) => ({ provider, model })));
  const matched = packageCatalogMatch(ref.provider, ref.model);
  if (matched && !names.some((n) => n.provider === matched.provider && n.model === matched.model)) names.push(matched);
  return names;
}

/** How long `recentSchedulesFor` reuses a lookup: a price added on another instance is seen after at most this. */
export const RECENT_PRICES_MS = 30_000;

/**
 * Every price version of the candidate names ($3 providers × $4 models) in a workspace ($1) and
 * the built-in catalog ($2). Prepared: every ingest batch looks its models up, and parsing and
 * planning this took ~0.8 ms of a ~0.9 ms lookup. A plan PostgreSQL keeps for it reads two
 * tables of bounded size (the catalog: ~1,500 models) that hold the built-in catalog from the
 * service's first start, so even a poor one stays cheap, unlike the ingest statement's.
 */
export const PRICES_OF_MODELS = prepared(
  'prices_of_models',
  `SELECT m.workspace_id, m.provider, m.model, p.effective_from AS "effectiveFrom", ${RATE_SELECT}
   FROM models m JOIN model_prices p ON p.workspace_id = m.workspace_id AND p.model_id = m.id
   WHERE m.workspace_id IN ($1, $2) AND m.provider = ANY($3) AND m.model = ANY($4)`,
);
const MAX_RECENT_PRICES = 10_000;

@injectable()
export class PgPriceCatalog implements PriceCatalog {
  private readonly recent = new Map<string, { until: number; schedules: PriceVersion[][] | undefined }>();
  /** bumped by every change on this instance: a lookup that overlapped one is not kept */
  private changes = 0;

  constructor(@inject(DataSource) private readonly db: DataSource) {}

  async recentSchedulesFor(workspaceId: string, ref: ModelRef): Promise<PriceVersion[][] | undefined> {
    const key = `${workspaceId}\u0000${modelRefKey(ref)}`;
    const kept = this.recent.get(key);
    if (kept && kept.until > Date.now()) return kept.schedules;
    const changes = this.changes;
    const schedules = (await this.schedulesFor(workspaceId, [ref])).get(modelRefKey(ref));
    if (changes === this.changes) {
      this.recent.delete(key);
      if (this.recent.size >= MAX_RECENT_PRICES) this.recent.delete(this.recent.keys().next().value!);
      this.recent.set(key, { until: Date.now() + RECENT_PRICES_MS, schedules });
    }
    return schedules;
  }

  /** A workspace's models or prices changed: its estimates look them up again. */
  private forgetRecent(workspaceId: string): void {
    this.changes += 1;
    const prefix = `${workspaceId}\u0000`;
    for (const key of this.recent.keys()) if (key.startsWith(prefix)) this.recent.delete(key);
  }

  lookupNames(ref: ModelRef): ModelRef[] {
    return catalogLookupNames(ref);
  }

  async schedulesFor(workspaceId: string, refs: ReadonlyArray<ModelRef>): Promise<Map<string, PriceVersion[][]>> {
    const unique = new Map<string, { pairs: ModelRef[] }>();
    for (const ref of refs) {
      const key = modelRefKey(ref);
      if (unique.has(key)) continue;
      unique.set(key, { pairs: catalogLookupNames(ref) });
    }
    const candidates = [...unique.values()].flatMap((u) => u.pairs);
    const providers = [...new Set(candidates.map((p) => p.provider))];
    const names = [...new Set(candidates.map((p) => p.model))];
    // SQL: one set-based join for every candidate name (snapshot suffixes, provider aliases,
    // the source's match) of a whole batch, in the workspace and the built-in catalog at once
    const rows = await sayingUnavailable(() =>
      runPrepared<PriceFields & { workspace_id: string; provider: string; model: string }>(
        poolOf(this.db),
        PRICES_OF_MODELS,
        [workspaceId, BUILT_IN_WORKSPACE, providers, names],
      ),
    );

    const found = new Map<string, PriceVersion[]>();
    for (const row of rows) {
      const key = `${row.workspace_id}\u0000${row.provider}\u0000${row.model}`;
      const list = found.get(key) ?? [];
      list.push(toPrice(row));
      found.set(key, list);
    }
    const result = new Map<string, PriceVersion[][]>();
    for (const [refKey, { pairs }] of unique) {
      // a workspace's own entries come before the built-in catalog, then the most exact name
      const schedules: PriceVersion[][] = [];
      for (const owner of [workspaceId, BUILT_IN_WORKSPACE]) {
        for (const { provider, model } of pairs) {
          const versions = found.get(`${owner}\u0000${provider}\u0000${model}`);
          if (versions) schedules.push(versions);
        }
      }
      if (schedules.length > 0) result.set(refKey, schedules);
    }
    return result;
  }

  async list(workspaceId: string, filter: ModelFilter): Promise<{ items: CatalogModel[]; total: number }> {
    // SQL: an anti-join (a workspace's own entry hides the built-in one with the same provider
    // and model), counted and paged, each page's prices aggregated with their model
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
    )) as ModelFields[];
    return { items: rows.map(toModel), total: counted?.total ?? 0 };
  }

  async create(workspaceId: string, model: NewModel): Promise<CatalogModel> {
    try {
      return await this.createModel(workspaceId, model);
    } finally {
      this.forgetRecent(workspaceId);
    }
  }

  async addPrice(workspaceId: string, modelId: string, price: PriceVersion): Promise<CatalogModel> {
    try {
      return await this.addPriceVersion(workspaceId, modelId, price);
    } finally {
      this.forgetRecent(workspaceId);
    }
  }

  private async createModel(workspaceId: string, model: NewModel): Promise<CatalogModel> {
    return this.db.transaction(async (tx) => {
      const id = randomUUID();
      try {
        await tx.getRepository(ModelEntity).insert({
          workspaceId,
          id,
          provider: model.provider.toLowerCase(),
          model: model.model.toLowerCase(),
          kind: model.kind,
          source: 'workspace',
        });
      } catch (error) {
        if (!isUniqueViolation(error)) throw error;
        throw new ConflictError(
          `model ${model.provider}/${model.model} already exists in this workspace; add a price version to it instead`,
        );
      }
      await insertPrice(tx, workspaceId, id, model.price);
      return load(tx, workspaceId, id);
    });
  }

  private async addPriceVersion(workspaceId: string, modelId: string, price: PriceVersion): Promise<CatalogModel> {
    return this.db.transaction(async (tx) => {
      const models = tx.getRepository(ModelEntity);
      const candidates = await models.findBy([
        { workspaceId, id: modelId },
        { workspaceId: BUILT_IN_WORKSPACE, id: modelId },
      ]);
      const found = candidates.find((m) => m.workspaceId === workspaceId) ?? candidates[0];
      if (!found) throw new NotFoundError(`no model with id ${modelId}`);
      let id = found.id;
      if (found.workspaceId !== workspaceId) {
        // pricing a built-in model creates (or extends) this workspace's own entry for it; a
        // concurrent first pricing may create it first, so the insert gives way and both read it
        await models
          .createQueryBuilder()
          .insert()
          .values({
            workspaceId,
            id: randomUUID(),
            provider: found.provider,
            model: found.model,
            kind: found.kind,
            source: 'workspace',
          })
          .orIgnore()
          .updateEntity(false)
          .execute();
        const own = await models.findOneByOrFail({
          workspaceId,
          provider: found.provider,
          model: found.model,
        });
        id = own.id;
      }
      await insertPrice(tx, workspaceId, id, price);
      return load(tx, workspaceId, id);
    });
  }
}

async function load(tx: EntityManager, workspaceId: string, id: string): Promise<CatalogModel> {
  const model = await tx.getRepository(ModelEntity).findOneByOrFail({ workspaceId, id });
  const prices = await tx.getRepository(ModelPriceEntity).find({
    where: { workspaceId, modelId: id },
    order: { effectiveFrom: 'ASC' },
  });
  const windows = await tx.getRepository(ModelPriceWindowEntity).find({
    where: { workspaceId, modelId: id },
    order: { effectiveFrom: 'ASC', position: 'ASC' },
  });
  const windowsOf = (price: ModelPriceEntity) =>
    windows.filter((w) => w.effectiveFrom.getTime() === price.effectiveFrom.getTime());
  return toModel({ ...model, prices: prices.map((price) => ({ ...price, timeOfDay: windowsOf(price) })) });
}

async function insertPrice(
  tx: EntityManager,
  workspaceId: string,
  modelId: string,
  price: PriceVersion,
): Promise<void> {
  const long = price.longContext;
  try {
    await tx.getRepository(ModelPriceEntity).insert({
      workspaceId,
      modelId,
      effectiveFrom: price.effectiveFrom,
      // exact decimal text, never a JS number (input and output are never null)
      ...(ratesAsText(price, (rate) => rate) as Record<Rate, string>),
      longContextAboveInputTokens: long?.aboveInputTokens ?? null,
      ...ratesAsText(long, (rate) => LONG_CONTEXT_RATES[rate]),
    });
  } catch (error) {
    if (!isUniqueViolation(error)) throw error;
    throw new ConflictError(`the model already has a price version from ${price.effectiveFrom.toISOString()}`);
  }
  if (price.timeOfDay.length === 0) return;
  await tx.getRepository(ModelPriceWindowEntity).insert(
    price.timeOfDay.map((window, position) => ({
      workspaceId,
      modelId,
      effectiveFrom: price.effectiveFrom,
      position,
      startSecond: window.startSecond,
      endSecond: window.endSecond,
      ...(ratesAsText(window, (rate) => rate) as Record<Rate, string>),
    })),
  );
}
