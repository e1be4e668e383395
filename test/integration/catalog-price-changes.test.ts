import { bearer, createTestApp, type TestApp } from '../support/test-app';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedBuiltInCatalog } from '../../src/infrastructure/catalog/seed-catalog';
import { ingest, usageRecord } from '../support/records';

/** A new built-in catalog version names the models whose prices changed; it never re-prices. */
let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => t.close());

describe('a built-in catalog version change', () => {
  it('names the models whose prices changed, says whether raw-window history differs, and changes no cost', async () => {
    const admin = bearer(t.token('root', { role: 'admin' }));
    await ingest(t, admin, [usageRecord({ requestId: 'snapshot', model: 'gpt-4o-2024-08-06' })], {
      expectAccepted: true,
    });
    // as if the database held an older catalog version whose gpt-4o and gpt-4o-mini prices differed
    await t.db.query(
      `UPDATE model_prices p SET input_per_million = input_per_million + 1 FROM models m
       WHERE p.workspace_id = '' AND m.workspace_id = '' AND p.model_id = m.id
         AND m.provider = 'openai' AND m.model IN ('gpt-4o', 'gpt-4o-mini')`,
    );
    await t.db.query(`UPDATE catalog_sources SET version = '0.0.0-old' WHERE workspace_id = ''`);
    const [before] = (await t.db.query(`SELECT cost::text AS cost FROM usage_records`)) as Array<{ cost: string }>;

    const seeded = await seedBuiltInCatalog(t.db);
    expect(seeded.loaded).toBe(true);
    expect(seeded.priceChanges).toEqual([
      { provider: 'openai', model: 'gpt-4o', rawWindowRequests: 1 },
      { provider: 'openai', model: 'gpt-4o-mini', rawWindowRequests: 0 },
    ]);
    const [after] = (await t.db.query(`SELECT cost::text AS cost FROM usage_records`)) as Array<{ cost: string }>;
    expect(after).toEqual(before);
    // the same version again: nothing loaded, nothing named
    expect(await seedBuiltInCatalog(t.db)).toEqual({ loaded: false, models: 0, priceChanges: [] });
  });
});
