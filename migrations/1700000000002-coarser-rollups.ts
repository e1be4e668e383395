import type { MigrationInterface, QueryRunner } from 'typeorm';

const METRICS = `
  requests            bigint      NOT NULL,
  errors              bigint      NOT NULL,
  input_tokens        bigint      NOT NULL,
  output_tokens       bigint      NOT NULL,
  cached_input_tokens bigint      NOT NULL,
  cache_write_tokens  bigint      NOT NULL,
  reasoning_tokens    bigint      NOT NULL,
  total_tokens        bigint      NOT NULL,
  duration_ms_sum     bigint      NOT NULL,
  duration_count      bigint      NOT NULL,
  cost                numeric     NOT NULL,
  unpriced_requests   bigint      NOT NULL,
  last_occurred_at    timestamptz NOT NULL`;

const METRIC_SUMS = `sum(requests), sum(errors), sum(input_tokens), sum(output_tokens), sum(cached_input_tokens),
  sum(cache_write_tokens), sum(reasoning_tokens), sum(total_tokens), sum(duration_ms_sum), sum(duration_count),
  sum(cost), sum(unpriced_requests), max(last_occurred_at)`;

const METRIC_COLUMNS = `requests, errors, input_tokens, output_tokens, cached_input_tokens, cache_write_tokens,
  reasoning_tokens, total_tokens, duration_ms_sum, duration_count, cost, unpriced_requests, last_occurred_at`;

/**
 * Coarser rollups derived from usage_hourly, for the queries that span every user: with many
 * users the per-user hourly rollup is nearly as large as the raw table. Charts and model
 * shares read usage_hourly_models; user lists and active users read whole UTC days from
 * usage_daily_users and the partial days at the ends from usage_hourly_users.
 */
export class CoarserRollups1700000000002 implements MigrationInterface {
  name = 'CoarserRollups1700000000002';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE usage_hourly_models (
        workspace_id text        NOT NULL,
        bucket_start timestamptz NOT NULL,
        provider     text        NOT NULL,
        model        text        NOT NULL,
        ${METRICS},
        PRIMARY KEY (workspace_id, bucket_start, provider, model)
      )`);
    await db.query(`
      CREATE TABLE usage_hourly_users (
        workspace_id text        NOT NULL,
        bucket_start timestamptz NOT NULL,
        user_id      text        NOT NULL,
        ${METRICS},
        PRIMARY KEY (workspace_id, bucket_start, user_id)
      )`);
    await db.query(`
      CREATE TABLE usage_daily_users (
        workspace_id text        NOT NULL,
        day_start    timestamptz NOT NULL,
        user_id      text        NOT NULL,
        ${METRICS},
        PRIMARY KEY (workspace_id, day_start, user_id)
      )`);
    await db.query(`CREATE INDEX usage_daily_users_user ON usage_daily_users (workspace_id, user_id, day_start)`);

    // built from the complete per-user hourly rollup, so existing data is covered exactly
    await db.query(`
      INSERT INTO usage_hourly_models (workspace_id, bucket_start, provider, model, ${METRIC_COLUMNS})
      SELECT workspace_id, bucket_start, provider, model, ${METRIC_SUMS}
      FROM usage_hourly GROUP BY workspace_id, bucket_start, provider, model`);
    await db.query(`
      INSERT INTO usage_hourly_users (workspace_id, bucket_start, user_id, ${METRIC_COLUMNS})
      SELECT workspace_id, bucket_start, user_id, ${METRIC_SUMS}
      FROM usage_hourly GROUP BY workspace_id, bucket_start, user_id`);
    await db.query(`
      INSERT INTO usage_daily_users (workspace_id, day_start, user_id, ${METRIC_COLUMNS})
      SELECT workspace_id, date_trunc('day', bucket_start, 'UTC'), user_id, ${METRIC_SUMS}
      FROM usage_hourly GROUP BY workspace_id, date_trunc('day', bucket_start, 'UTC'), user_id`);
  }

  async down(db: QueryRunner): Promise<void> {
    for (const table of ['usage_daily_users', 'usage_hourly_users', 'usage_hourly_models']) {
      await db.query(`DROP TABLE IF EXISTS ${table}`);
    }
  }
}
