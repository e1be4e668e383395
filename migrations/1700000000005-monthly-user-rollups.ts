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
const UTC_MONTH = "date_trunc('month', day_start, 'UTC')";

/** Rollups whose rows are mostly updated, not inserted: room on each page lets updates stay on it. */
const UPDATE_HEAVY = [
  'usage_daily_users',
  'usage_daily_user_models',
  'usage_daily_models',
  'usage_hourly_models',
  'usage_hourly_providers',
  'usage_monthly_users',
  'usage_monthly_user_models',
];

/**
 * Per-user rollups by UTC month. The users page sums every user's usage over the range:
 * by day that is 90 rows per user for 90 days; a range is also the months it spans minus
 * the days of them outside it, which is a handful of rows per user (sums subtract exactly).
 * Both are derived from the daily per-user rollups, which are complete.
 */
export class MonthlyUserRollups1700000000005 implements MigrationInterface {
  name = 'MonthlyUserRollups1700000000005';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE usage_monthly_users (
        workspace_id text        NOT NULL,
        month_start  timestamptz NOT NULL,
        user_id      text        NOT NULL,
        ${DEFINITIONS},
        PRIMARY KEY (workspace_id, month_start, user_id)
      )`);
    await db.query(`
      CREATE TABLE usage_monthly_user_models (
        workspace_id text        NOT NULL,
        user_id      text        NOT NULL,
        month_start  timestamptz NOT NULL,
        provider     text        NOT NULL,
        model        text        NOT NULL,
        ${DEFINITIONS},
        PRIMARY KEY (workspace_id, user_id, month_start, provider, model)
      )`);
    await db.query(`
      INSERT INTO usage_monthly_users (workspace_id, month_start, user_id, ${COLUMNS})
      SELECT workspace_id, ${UTC_MONTH}, user_id, ${SUMS}
      FROM usage_daily_users GROUP BY workspace_id, ${UTC_MONTH}, user_id`);
    await db.query(`
      INSERT INTO usage_monthly_user_models (workspace_id, user_id, month_start, provider, model, ${COLUMNS})
      SELECT workspace_id, user_id, ${UTC_MONTH}, provider, model, ${SUMS}
      FROM usage_daily_user_models GROUP BY workspace_id, user_id, ${UTC_MONTH}, provider, model`);
    for (const table of UPDATE_HEAVY) await db.query(`ALTER TABLE ${table} SET (fillfactor = 70)`);
  }

  async down(db: QueryRunner): Promise<void> {
    for (const table of UPDATE_HEAVY.slice(0, 5)) await db.query(`ALTER TABLE ${table} RESET (fillfactor)`);
    await db.query(`DROP TABLE IF EXISTS usage_monthly_user_models`);
    await db.query(`DROP TABLE IF EXISTS usage_monthly_users`);
  }
}
