import type { DataSource } from 'typeorm';
import { CatalogSourceEntity } from '../persistence/entities';
import { BUILT_IN_WORKSPACE } from '../persistence/pg-price-catalog';
import { CATALOG_SOURCE, loadBundledCatalog } from './genai-prices-catalog';

const SEED_LOCK_KEY = 727_412_003;

/**
 * Loads the built-in model catalog when the installed source version differs from the one in
 * the database. Built-in rows are replaced wholesale; workspaces' own entries are untouched.
 * The models and prices go in as set-based SQL (a few thousand rows in three statements,
 * prices joined to the models' ids); the source's version is a plain row.
 */
export async function seedBuiltInCatalog(db: DataSource): Promise<{ loaded: boolean; models: number }> {
  const source = CATALOG_SOURCE;
  const current = await db
    .getRepository(CatalogSourceEntity)
    .findOneBy({ workspaceId: BUILT_IN_WORKSPACE, name: source.name });
  if (current?.version === source.version) return { loaded: false, models: 0 };

  const models = await loadBundledCatalog();
  await db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [SEED_LOCK_KEY]);
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
    await tx.query(
      `INSERT INTO model_prices (workspace_id, model_id, effective_from, input_per_million, output_per_million,
         cached_input_per_million, cache_write_per_million, reasoning_per_million)
       SELECT $1, m.id, t.effective_from, t.input, t.output, t.cached, t.cache_write, t.reasoning
       FROM unnest($2::text[], $3::text[], $4::timestamptz[], $5::numeric[], $6::numeric[], $7::numeric[],
                   $8::numeric[], $9::numeric[])
            AS t(provider, model, effective_from, input, output, cached, cache_write, reasoning)
       JOIN models m ON m.workspace_id = $1 AND m.provider = t.provider AND m.model = t.model`,
      [
        BUILT_IN_WORKSPACE,
        prices.map((p) => p.provider),
        prices.map((p) => p.model),
        prices.map((p) => p.effectiveFrom),
        prices.map((p) => p.inputPerMillion),
        prices.map((p) => p.outputPerMillion),
        prices.map((p) => p.cachedInputPerMillion),
        prices.map((p) => p.cacheWritePerMillion),
        prices.map((p) => p.reasoningPerMillion),
      ],
    );
    await tx
      .getRepository(CatalogSourceEntity)
      .upsert(
        { workspaceId: BUILT_IN_WORKSPACE, name: source.name, version: source.version, loadedAt: () => 'now()' },
        ['workspaceId', 'name'],
      );
  });
  return { loaded: true, models: models.length };
}
