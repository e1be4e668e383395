import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The tables that keep token sums at this migration: the pending queue and every rollup. */
const SUMMING_TABLES = [
  'usage_pending',
  'usage_hourly',
  'usage_daily_user_models',
  'usage_monthly_user_models',
  'usage_hourly_users',
  'usage_daily_users',
  'usage_dekad_users',
  'usage_monthly_users',
  'usage_hourly_models',
  'usage_daily_models',
  'usage_monthly_models',
  'usage_hourly_providers',
  'usage_daily_providers',
  'usage_slot_providers',
];

/**
 * Writes to Anthropic's one-hour prompt cache cost 2× the input price where five-minute writes
 * cost 1.25×. A record keeps how many of its cache writes were one-hour ones, a price version
 * their rate, and the sums keep them too, so hours past raw retention are re-priced right.
 * Every column is added with a default: no table is rewritten, and what was stored before
 * (no split known) reads as five-minute writes, as it was priced.
 */
export class OneHourCacheWrites1796570000000 implements MigrationInterface {
  name = 'OneHourCacheWrites1796570000000';

  async up(db: QueryRunner): Promise<void> {
    // no CHECK: validating one would read every raw partition under an exclusive lock (the
    // service checks that it is a part of cache_write_tokens, as for the other parts)
    await db.query(`ALTER TABLE usage_records ADD COLUMN cache_write_1h_tokens bigint NOT NULL DEFAULT 0`);
    await db.query(`
      ALTER TABLE model_prices ADD COLUMN cache_write_1h_per_million numeric
        CHECK (cache_write_1h_per_million >= 0)`);
    for (const table of SUMMING_TABLES) {
      await db.query(`ALTER TABLE ${table} ADD COLUMN cache_write_1h_tokens bigint NOT NULL DEFAULT 0`);
    }
    // the built-in catalog is loaded again at start, now with its one-hour write prices
    await db.query(`DELETE FROM catalog_sources WHERE workspace_id = ''`);
  }

  async down(db: QueryRunner): Promise<void> {
    for (const table of [...SUMMING_TABLES].reverse()) {
      await db.query(`ALTER TABLE ${table} DROP COLUMN cache_write_1h_tokens`);
    }
    await db.query(`ALTER TABLE model_prices DROP COLUMN cache_write_1h_per_million`);
    await db.query(`ALTER TABLE usage_records DROP COLUMN cache_write_1h_tokens`);
  }
}
