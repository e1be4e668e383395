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

/**
 * The workspace-wide rollups a level coarser: models by UTC month, providers by UTC day and
 * month. A chart by provider in a whole-hour zone reads each local day as its UTC day's
 * provider rows plus and minus a few hours of them; totals and shares over 90 days read
 * three months and the days around them. All are a handful of rows per batch to keep.
 */
export class CoarseModelProviderRollups1700000000006 implements MigrationInterface {
  name = 'CoarseModelProviderRollups1700000000006';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE usage_monthly_models (
        workspace_id text        NOT NULL,
        month_start  timestamptz NOT NULL,
        provider     text        NOT NULL,
        model        text        NOT NULL,
        ${DEFINITIONS},
        PRIMARY KEY (workspace_id, month_start, provider, model)
      ) WITH (fillfactor = 70)`);
    for (const [table, time] of [
      ['usage_daily_providers', 'day_start'],
      ['usage_monthly_providers', 'month_start'],
    ]) {
      await db.query(`
        CREATE TABLE ${table} (
          workspace_id text        NOT NULL,
          ${time}      timestamptz NOT NULL,
          provider     text        NOT NULL,
          ${DEFINITIONS},
          PRIMARY KEY (workspace_id, ${time}, provider)
        ) WITH (fillfactor = 70)`);
    }
    await db.query(`
      INSERT INTO usage_monthly_models (workspace_id, month_start, provider, model, ${COLUMNS})
      SELECT workspace_id, ${UTC_MONTH}, provider, model, ${SUMS}
      FROM usage_daily_models GROUP BY workspace_id, ${UTC_MONTH}, provider, model`);
    await db.query(`
      INSERT INTO usage_daily_providers (workspace_id, day_start, provider, ${COLUMNS})
      SELECT workspace_id, day_start, provider, ${SUMS}
      FROM usage_daily_models GROUP BY workspace_id, day_start, provider`);
    await db.query(`
      INSERT INTO usage_monthly_providers (workspace_id, month_start, provider, ${COLUMNS})
      SELECT workspace_id, ${UTC_MONTH}, provider, ${SUMS}
      FROM usage_daily_models GROUP BY workspace_id, ${UTC_MONTH}, provider`);
  }

  async down(db: QueryRunner): Promise<void> {
    for (const table of ['usage_monthly_providers', 'usage_daily_providers', 'usage_monthly_models']) {
      await db.query(`DROP TABLE IF EXISTS ${table}`);
    }
  }
}
