import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The metric columns of the per-user rollups at this migration. */
const COUNTS = [
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
  'unpriced_requests',
  'unpriced_tokens',
  'provided_requests',
];

/** Taken by every fold: while this runs, no fold adds to the hourly rows it sums. */
const ROLLUP_LOCK_KEY = 727_412_002;

/**
 * Each user's usage per UTC hour. A user's chart by local day reads each day as its UTC day
 * less one edge hour plus another; those hours came from the user × model hours, one row for
 * every model and operation the user called in them (~50 for the heaviest user of the bench's
 * "any model" data: 9,000 rows for a 90-day chart instead of 180). Filled from the user × model
 * hours; what is still pending goes into both when it is folded. Instances of the previous
 * version must be stopped before this one starts: their fold would not add to it.
 */
export class HourlyUsers1796540000000 implements MigrationInterface {
  name = 'HourlyUsers1796540000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE usage_hourly_users (
        workspace_id text NOT NULL,
        bucket_start timestamptz NOT NULL,
        user_id text NOT NULL,
        ${COUNTS.map((c) => `${c} bigint NOT NULL`).join(',\n        ')},
        cost numeric NOT NULL,
        PRIMARY KEY (workspace_id, bucket_start, user_id)
      ) WITH (fillfactor = 70)`);
    await db.query(`CREATE INDEX usage_hourly_users_user ON usage_hourly_users (workspace_id, user_id, bucket_start)`);
    await db.query('SELECT pg_advisory_xact_lock($1)', [ROLLUP_LOCK_KEY]);
    const metrics = [...COUNTS, 'cost'];
    await db.query(`
      INSERT INTO usage_hourly_users (workspace_id, bucket_start, user_id, ${metrics.join(', ')})
      SELECT workspace_id, bucket_start, user_id, ${metrics.map((m) => `sum(${m})`).join(', ')}
      FROM usage_hourly GROUP BY 1, 2, 3`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP TABLE usage_hourly_users`);
  }
}
