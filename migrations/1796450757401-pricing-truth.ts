import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The rollups as they stand at this migration: table, time column, its expression over an hour, dimensions. */
const ROLLUPS: Array<[table: string, time: string, ofHour: string, dimensions: string[]]> = [
  ['usage_hourly', 'bucket_start', 'bucket_start', ['user_id', 'provider', 'model']],
  ['usage_daily_user_models', 'day_start', "date_trunc('day', bucket_start, 'UTC')", ['user_id', 'provider', 'model']],
  [
    'usage_monthly_user_models',
    'month_start',
    "date_trunc('month', bucket_start, 'UTC')",
    ['user_id', 'provider', 'model'],
  ],
  ['usage_daily_users', 'day_start', "date_trunc('day', bucket_start, 'UTC')", ['user_id']],
  ['usage_monthly_users', 'month_start', "date_trunc('month', bucket_start, 'UTC')", ['user_id']],
  ['usage_hourly_models', 'bucket_start', 'bucket_start', ['provider', 'model']],
  ['usage_daily_models', 'day_start', "date_trunc('day', bucket_start, 'UTC')", ['provider', 'model']],
  ['usage_monthly_models', 'month_start', "date_trunc('month', bucket_start, 'UTC')", ['provider', 'model']],
  ['usage_hourly_providers', 'bucket_start', 'bucket_start', ['provider']],
  ['usage_daily_providers', 'day_start', "date_trunc('day', bucket_start, 'UTC')", ['provider']],
  ['usage_slot_providers', 'slot_start', 'slot_start', ['provider']],
];

/**
 * Pricing truth. Every rollup (and usage_pending) keeps the tokens of its unpriced records
 * beside their count, so coverage (the share of tokens priced) is read from the rollups,
 * also past raw retention. Filled in: a row whose records are all unpriced holds all its
 * tokens; a row mixing priced and unpriced records is recomputed from its raw records less
 * what is still pending, or, past raw retention, estimated in proportion to its requests
 * (the only rows this version cannot know exactly).
 *
 * repricing_runs: the audit of re-pricing, one row per applied run (who, when, range,
 * filters, totals before and after, each model's change, the hours left as they were).
 */
export class PricingTruth1796450757401 implements MigrationInterface {
  name = 'PricingTruth1796450757401';

  async up(db: QueryRunner): Promise<void> {
    for (const table of ['usage_pending', ...ROLLUPS.map(([t]) => t)]) {
      await db.query(`ALTER TABLE ${table} ADD COLUMN unpriced_tokens bigint NOT NULL DEFAULT 0`);
      await db.query(
        `UPDATE ${table} SET unpriced_tokens = total_tokens WHERE unpriced_requests > 0 AND unpriced_requests = requests`,
      );
    }
    await db.query(`
      UPDATE usage_pending p SET unpriced_tokens = r.tokens
      FROM (SELECT workspace_id, date_trunc('hour', occurred_at, 'UTC') AS bucket_start,
                   date_bin('15 minutes', occurred_at, timestamptz '2000-01-01 00:00:00+00') AS slot_start,
                   user_id, provider, model, sum(total_tokens) AS tokens
            FROM usage_records WHERE cost IS NULL GROUP BY 1, 2, 3, 4, 5, 6) r
      WHERE p.unpriced_requests > 0 AND p.unpriced_requests < p.requests AND p.workspace_id = r.workspace_id
        AND p.bucket_start = r.bucket_start AND p.slot_start = r.slot_start AND p.user_id = r.user_id
        AND p.provider = r.provider AND p.model = r.model`);
    for (const [table, time, ofHour, dimensions] of ROLLUPS) {
      const ofRecord = ofHour
        .replace('bucket_start', "date_trunc('hour', occurred_at, 'UTC')")
        .replace('slot_start', "date_bin('15 minutes', occurred_at, timestamptz '2000-01-01 00:00:00+00')");
      const keys = ['workspace_id', time, ...dimensions];
      const same = keys.map((k) => `t.${k} = x.${k}`).join(' AND ');
      await db.query(`
        UPDATE ${table} t SET unpriced_tokens = x.tokens
        FROM (SELECT ${keys.join(', ')}, sum(tokens)::bigint AS tokens FROM (
                SELECT workspace_id, ${ofRecord} AS ${time}, ${dimensions.join(', ')}, total_tokens AS tokens
                FROM usage_records WHERE cost IS NULL
                UNION ALL
                SELECT workspace_id, ${ofHour} AS ${time}, ${dimensions.join(', ')}, -unpriced_tokens
                FROM usage_pending) s
              GROUP BY ${keys.join(', ')}) x
        WHERE t.unpriced_requests > 0 AND t.unpriced_requests < t.requests AND ${same}`);
      // mixed rows whose raw records are gone: in proportion to their requests
      await db.query(`
        UPDATE ${table} SET unpriced_tokens = total_tokens * unpriced_requests / requests
        WHERE unpriced_requests > 0 AND unpriced_requests < requests AND unpriced_tokens = 0`);
    }
    await db.query(`
      CREATE TABLE repricing_runs (
        workspace_id  text        NOT NULL,
        id            uuid        NOT NULL,
        created_at    timestamptz NOT NULL DEFAULT now(),
        created_by    text        NOT NULL,
        range_from    timestamptz NOT NULL,
        range_to      timestamptz NOT NULL,
        provider      text,
        model         text,
        records       bigint      NOT NULL,
        repriced      bigint      NOT NULL,
        cost_before   numeric     NOT NULL,
        cost_after    numeric     NOT NULL,
        unpriced_before bigint    NOT NULL,
        unpriced_after  bigint    NOT NULL,
        models        jsonb       NOT NULL,
        skipped_hours jsonb       NOT NULL,
        PRIMARY KEY (workspace_id, id)
      )`);
    await db.query(`CREATE INDEX repricing_runs_recent ON repricing_runs (workspace_id, created_at DESC)`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP TABLE repricing_runs`);
    for (const table of ['usage_pending', ...ROLLUPS.map(([t]) => t)]) {
      await db.query(`ALTER TABLE ${table} DROP COLUMN unpriced_tokens`);
    }
  }
}
