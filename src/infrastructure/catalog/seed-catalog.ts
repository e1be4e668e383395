import type { DataSource, EntityManager } from 'typeorm';
import { normalizeProvider } from '../../domain/model-name';
import { CatalogSourceEntity } from '../persistence/entities';
import {
  BUILT_IN_WORKSPACE,
  catalogLookupNames,
  LONG_CONTEXT_ABOVE_COLUMN,
  longContextColumn,
  PRICE_COLUMN_NAMES,
  RATE_NAMES,
  RATES,
} from '../persistence/pg-price-catalog';
import { ADVISORY_LOCKS } from '../persistence/advisory-locks';
import { CATALOG_SOURCE, loadBundledCatalog, type SeedPrice } from './genai-prices-catalog';

/** A built-in model whose price versions the new catalog version changed (added, removed or altered). */
export interface CatalogPriceChange {
  provider: string;
  model: string;
  /** requests of the raw window, in any workspace, whose model name this entry prices: their history would differ */
  rawWindowRequests: number;
}

/** The seed prices as one array per column of PRICE_COLUMN_NAMES (for unnest). */
function seedPriceColumns(prices: SeedPrice[]): Record<string, Array<string | number | null>> {
  const columns: Record<string, Array<string | number | null>> = {
    [LONG_CONTEXT_ABOVE_COLUMN]: prices.map((p) => p.longContext?.aboveInputTokens ?? null),
  };
  for (const rate of RATE_NAMES) {
    columns[RATES[rate]] = prices.map((p) => p[rate]);
    columns[longContextColumn(rate)] = prices.map((p) => p.longContext?.[rate] ?? null);
  }
  return columns;
}

/** Every built-in model's price versions as one comparable text. */
async function builtInPrices(tx: EntityManager): Promise<Map<string, string>> {
  const rows = (await tx.query(
    // a row's text keeps a NULL apart from its neighbours (concat_ws would drop it)
    `SELECT m.provider, m.model, string_agg(ROW(p.effective_from, ${PRICE_COLUMN_NAMES.map((c) => `p.${c}`).join(', ')},
       (SELECT string_agg(ROW(w.position, w.start_second, w.end_second, ${RATE_NAMES.map((r) => `w.${RATES[r]}`).join(', ')})::text,
          ',' ORDER BY w.position) FROM model_price_windows w
        WHERE w.workspace_id = p.workspace_id AND w.model_id = p.model_id AND w.effective_from = p.effective_from))::text,
       ';' ORDER BY p.effective_from) AS prices
     FROM models m LEFT JOIN model_prices p ON p.workspace_id = m.workspace_id AND p.model_id = m.id
     WHERE m.workspace_id = $1 GROUP BY m.provider, m.model`,
    [BUILT_IN_WORKSPACE],
  )) as Array<{ provider: string; model: string; prices: string | null }>;
  return new Map(rows.map((r) => [`${r.provider}\u0000${r.model}`, r.prices ?? '']));
}

/**
 * The models whose prices differ between two loads, each with how many requests of the raw
 * window carry a name it prices (as ingest looks names up; a workspace's own entry may still
 * shadow it there). Read from the hourly rollup: a few rows per model and hour.
 */
async function priceChanges(
  tx: EntityManager,
  before: Map<string, string>,
  after: Map<string, string>,
  rawRetentionDays: number,
): Promise<CatalogPriceChange[]> {
  const changed = [...new Set([...before.keys(), ...after.keys()])]
    .filter((k) => before.get(k) !== after.get(k))
    .sort();
  if (changed.length === 0 || before.size === 0) return [];
  const seen = (await tx.query(
    `SELECT provider, model, sum(requests)::bigint AS requests FROM usage_hourly_models
     WHERE bucket_start >= now() - make_interval(days => $1) GROUP BY provider, model`,
    [rawRetentionDays],
  )) as Array<{ provider: string; model: string; requests: string }>;
  return changed.map((key) => {
    const [provider, model] = key.split('\u0000') as [string, string];
    const rawWindowRequests = seen
      .filter((s) =>
        catalogLookupNames(s).some(
          (name) => normalizeProvider(name.provider) === normalizeProvider(provider) && name.model === model,
        ),
      )
      .reduce((n, s) => n + Number(s.requests), 0);
    return { provider, model, rawWindowRequests };
  });
}

/**
 * Loads the built-in model catalog when the installed source version differs from the one in
 * the database. Built-in rows are replaced wholesale; workspaces' own entries are untouched.
 * The models and prices go in as set-based SQL (a few thousand rows in three statements,
 * prices joined to the models' ids); the source's version is a plain row.
 */
export async function seedBuiltInCatalog(
  db: DataSource,
  rawRetentionDays = 3650,
): Promise<{ loaded: boolean; models: number; priceChanges: CatalogPriceChange[] }> {
  const source = CATALOG_SOURCE;
  const current = await db
    .getRepository(CatalogSourceEntity)
    .findOneBy({ workspaceId: BUILT_IN_WORKSPACE, name: source.name });
  if (current?.version === source.version) return { loaded: false, models: 0, priceChanges: [] };

  const models = await loadBundledCatalog();
  const changes = await db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [ADVISORY_LOCKS.catalogSeed]);
    const before = await builtInPrices(tx);
    await tx.query(
      `INSERT INTO models (workspace_id, id, provider, model, kind, source)
       SELECT $1, gen_random_uuid(), provider, model, kind, $5
       FROM unnest($2::text[], $3::text[], $4::text[]) AS t(provider, model, kind)
       ON CONFLICT (workspace_id, provider, model) DO UPDATE SET kind = EXCLUDED.kind, source = EXCLUDED.source`,
      [
        BUILT_IN_WORKSPACE,
        models.map((m) => m.provider),
        models.map((m) => m.model),
        models.map((m) => m.kind),
        `${source.name}@${source.version}`,
      ],
    );
    await tx.query('DELETE FROM model_prices WHERE workspace_id = $1', [BUILT_IN_WORKSPACE]);
    const prices = models.flatMap((m) => m.prices.map((price) => ({ ...price, provider: m.provider, model: m.model })));
    const columns = seedPriceColumns(prices);
    await tx.query(
      `INSERT INTO model_prices (workspace_id, model_id, effective_from, ${PRICE_COLUMN_NAMES.join(', ')})
       SELECT $1, m.id, t.effective_from, ${PRICE_COLUMN_NAMES.map((c) => `t.${c}`).join(', ')}
       FROM unnest($2::text[], $3::text[], $4::timestamptz[], ${PRICE_COLUMN_NAMES.map((c, i) => `$${i + 5}::${c === LONG_CONTEXT_ABOVE_COLUMN ? 'integer' : 'numeric'}[]`).join(', ')})
            AS t(provider, model, effective_from, ${PRICE_COLUMN_NAMES.join(', ')})
       JOIN models m ON m.workspace_id = $1 AND m.provider = t.provider AND m.model = t.model`,
      [
        BUILT_IN_WORKSPACE,
        prices.map((p) => p.provider),
        prices.map((p) => p.model),
        prices.map((p) => p.effectiveFrom),
        ...PRICE_COLUMN_NAMES.map((c) => columns[c]),
      ],
    );
    const windows = prices.flatMap((p) =>
      p.timeOfDay.map((window, position) => ({
        provider: p.provider,
        model: p.model,
        at: p.effectiveFrom,
        position,
        window,
      })),
    );
    await tx.query(
      `INSERT INTO model_price_windows (workspace_id, model_id, effective_from, position, start_second, end_second,
         ${RATE_NAMES.map((r) => RATES[r]).join(', ')})
       SELECT $1, m.id, t.effective_from, t.position, t.start_second, t.end_second,
         ${RATE_NAMES.map((r) => `t.${RATES[r]}`).join(', ')}
       FROM unnest($2::text[], $3::text[], $4::timestamptz[], $5::smallint[], $6::integer[], $7::integer[],
                   ${RATE_NAMES.map((_, i) => `$${i + 8}::numeric[]`).join(', ')})
            AS t(provider, model, effective_from, position, start_second, end_second, ${RATE_NAMES.map((r) => RATES[r]).join(', ')})
       JOIN models m ON m.workspace_id = $1 AND m.provider = t.provider AND m.model = t.model`,
      [
        BUILT_IN_WORKSPACE,
        windows.map((w) => w.provider),
        windows.map((w) => w.model),
        windows.map((w) => w.at),
        windows.map((w) => w.position),
        windows.map((w) => w.window.startSecond),
        windows.map((w) => w.window.endSecond),
        ...RATE_NAMES.map((r) => windows.map((w) => w.window[r])),
      ],
    );
    await tx
      .getRepository(CatalogSourceEntity)
      .upsert(
        { workspaceId: BUILT_IN_WORKSPACE, name: source.name, version: source.version, loadedAt: () => 'now()' },
        ['workspaceId', 'name'],
      );
    // recorded history is never re-priced here: the start-up log names what a re-pricing would change
    return priceChanges(tx, before, await builtInPrices(tx), rawRetentionDays);
  });
  return { loaded: true, models: models.length, priceChanges: changes };
}
