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

/**
 * Fewer rows for the background fold to write. A user's usage by hour is read from
 * usage_hourly (by user, provider and model, with its index on user and hour): queries read
 * hours only at the edges of a range, where a user has a row or two per hour, so
 * usage_hourly_users saved little reading and cost almost a row per record to keep.
 * usage_hourly loses last_occurred_at: a user's last activity is read by day.
 */
export class LeanerHourlyRollups1700000000008 implements MigrationInterface {
  name = 'LeanerHourlyRollups1700000000008';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`DROP TABLE usage_hourly_users`);
    await db.query(`ALTER TABLE usage_hourly DROP COLUMN last_occurred_at`);
  }

  async down(db: QueryRunner): Promise<void> {
    // the latest occurrence per hour comes back from the raw records where retention kept
    // them, else as the hour's last microsecond (the latest it can have been)
    await db.query(`ALTER TABLE usage_hourly ADD COLUMN last_occurred_at timestamptz`);
    await db.query(`
      UPDATE usage_hourly h SET last_occurred_at = r.last_occurred_at
      FROM (SELECT workspace_id, date_trunc('hour', occurred_at, 'UTC') AS bucket_start, user_id, provider, model,
                   max(occurred_at) AS last_occurred_at
            FROM usage_records GROUP BY 1, 2, 3, 4, 5) r
      WHERE r.workspace_id = h.workspace_id AND r.bucket_start = h.bucket_start AND r.user_id = h.user_id
        AND r.provider = h.provider AND r.model = h.model`);
    await db.query(`
      UPDATE usage_hourly SET last_occurred_at = bucket_start + interval '1 hour' - interval '1 microsecond'
      WHERE last_occurred_at IS NULL`);
    await db.query(`ALTER TABLE usage_hourly ALTER COLUMN last_occurred_at SET NOT NULL`);
    await db.query(`
      CREATE TABLE usage_hourly_users (
        workspace_id     text        NOT NULL,
        bucket_start     timestamptz NOT NULL,
        user_id          text        NOT NULL,
        ${DEFINITIONS},
        last_occurred_at timestamptz NOT NULL,
        PRIMARY KEY (workspace_id, bucket_start, user_id)
      ) WITH (fillfactor = 70)`);
    await db.query(`
      INSERT INTO usage_hourly_users (workspace_id, bucket_start, user_id, ${ADDITIVE.join(', ')}, last_occurred_at)
      SELECT workspace_id, bucket_start, user_id, ${ADDITIVE.map((c) => `sum(${c})`).join(', ')}, max(last_occurred_at)
      FROM usage_hourly GROUP BY workspace_id, bucket_start, user_id`);
    await db.query(`CREATE INDEX usage_hourly_users_user ON usage_hourly_users (workspace_id, user_id, bucket_start)`);
  }
}
