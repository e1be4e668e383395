import type { MigrationInterface, QueryRunner } from 'typeorm';

const ADDITIVE = [
  'requests',
  'errors',
  'input_tokens',
  'output_tokens',
  'cached_input_tokens',
  'cache_write_tokens',
  'reasoning_tokens',
  'total_tokens',
  'duration_ms_sum',
  'duration_count',
  'cost',
  'unpriced_requests',
];
const DEFINITIONS = ADDITIVE.map((c) => `${c} ${c === 'cost' ? 'numeric' : 'bigint'} NOT NULL`).join(',\n  ');
const COLUMNS = ADDITIVE.join(', ');
const SUMS = ADDITIVE.map((c) => `sum(${c})`).join(', ');
const UTC_DAY = "date_trunc('day', bucket_start, 'UTC')";

/**
 * Coarser rollups for the long ranges, again derived from usage_hourly. Over 90 days the
 * hourly model rollup holds 90 × 24 × models rows; per UTC day it is 24 times smaller, and
 * per provider (for the charts, which bucket by hour in the caller's time zone) about ten
 * times smaller. Per user and model per day is what a user's model breakdown and the
 * users page read. None of them carries last_occurred_at: no query reads it from them.
 * usage_daily_user_models leads with the user, because it is always read for given users.
 * usage_hourly_models loses its last_occurred_at for the same reason: keeping a maximum
 * exact when a user is erased costs a search through the other users' rows.
 */
export class DailyAndProviderRollups1700000000004 implements MigrationInterface {
  name = 'DailyAndProviderRollups1700000000004';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE usage_daily_models (
        workspace_id text        NOT NULL,
        day_start    timestamptz NOT NULL,
        provider     text        NOT NULL,
        model        text        NOT NULL,
        ${DEFINITIONS},
        PRIMARY KEY (workspace_id, day_start, provider, model)
      )`);
    await db.query(`
      CREATE TABLE usage_hourly_providers (
        workspace_id text        NOT NULL,
        bucket_start timestamptz NOT NULL,
        provider     text        NOT NULL,
        ${DEFINITIONS},
        PRIMARY KEY (workspace_id, bucket_start, provider)
      )`);
    await db.query(`
      CREATE TABLE usage_daily_user_models (
        workspace_id text        NOT NULL,
        user_id      text        NOT NULL,
        day_start    timestamptz NOT NULL,
        provider     text        NOT NULL,
        model        text        NOT NULL,
        ${DEFINITIONS},
        PRIMARY KEY (workspace_id, user_id, day_start, provider, model)
      )`);

    await db.query(`
      INSERT INTO usage_daily_models (workspace_id, day_start, provider, model, ${COLUMNS})
      SELECT workspace_id, ${UTC_DAY}, provider, model, ${SUMS}
      FROM usage_hourly GROUP BY workspace_id, ${UTC_DAY}, provider, model`);
    await db.query(`
      INSERT INTO usage_hourly_providers (workspace_id, bucket_start, provider, ${COLUMNS})
      SELECT workspace_id, bucket_start, provider, ${SUMS}
      FROM usage_hourly GROUP BY workspace_id, bucket_start, provider`);
    await db.query(`
      INSERT INTO usage_daily_user_models (workspace_id, user_id, day_start, provider, model, ${COLUMNS})
      SELECT workspace_id, user_id, ${UTC_DAY}, provider, model, ${SUMS}
      FROM usage_hourly GROUP BY workspace_id, user_id, ${UTC_DAY}, provider, model`);
    await db.query(`ALTER TABLE usage_hourly_models DROP COLUMN last_occurred_at`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE usage_hourly_models ADD COLUMN last_occurred_at timestamptz`);
    await db.query(`
      UPDATE usage_hourly_models m SET last_occurred_at = h.last_occurred_at
      FROM (SELECT workspace_id, bucket_start, provider, model, max(last_occurred_at) AS last_occurred_at
            FROM usage_hourly GROUP BY 1, 2, 3, 4) h
      WHERE h.workspace_id = m.workspace_id AND h.bucket_start = m.bucket_start
        AND h.provider = m.provider AND h.model = m.model`);
    await db.query(`ALTER TABLE usage_hourly_models ALTER COLUMN last_occurred_at SET NOT NULL`);
    for (const table of ['usage_daily_user_models', 'usage_hourly_providers', 'usage_daily_models']) {
      await db.query(`DROP TABLE IF EXISTS ${table}`);
    }
  }
}
