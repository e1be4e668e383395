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

/** Taken by every fold: while this runs, no fold adds to the daily rows it sums. */
const ROLLUP_LOCK_KEY = 727_412_002;

/**
 * Each user's usage per UTC dekad (the 1st–10th, 11th–20th and 21st to the end of a month),
 * between their days and months. The users table sums every user over the range; a range that
 * starts in the middle of a month read up to fifteen daily rows a user (the month less the days
 * before, or the days to its end), now at most a dekad and five days. Filled from the daily
 * rows; what is still pending goes into both when it is folded. Instances of the previous
 * version must be stopped before this one starts: their fold would not add to it.
 */
export class DekadUsers1796530000000 implements MigrationInterface {
  name = 'DekadUsers1796530000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE usage_dekad_users (
        workspace_id text NOT NULL,
        dekad_start timestamptz NOT NULL,
        user_id text NOT NULL,
        ${COUNTS.map((c) => `${c} bigint NOT NULL`).join(',\n        ')},
        cost numeric NOT NULL,
        PRIMARY KEY (workspace_id, dekad_start, user_id)
      ) WITH (fillfactor = 70)`);
    await db.query(`CREATE INDEX usage_dekad_users_user ON usage_dekad_users (workspace_id, user_id, dekad_start)`);
    await db.query('SELECT pg_advisory_xact_lock($1)', [ROLLUP_LOCK_KEY]);
    const dekad = `((date_trunc('month', day_start AT TIME ZONE 'UTC')
      + make_interval(days => least((extract(day FROM day_start AT TIME ZONE 'UTC')::int - 1) / 10, 2) * 10)) AT TIME ZONE 'UTC')`;
    const metrics = [...COUNTS, 'cost'];
    await db.query(`
      INSERT INTO usage_dekad_users (workspace_id, dekad_start, user_id, ${metrics.join(', ')})
      SELECT workspace_id, ${dekad}, user_id, ${metrics.map((m) => `sum(${m})`).join(', ')}
      FROM usage_daily_users GROUP BY 1, 2, 3`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP TABLE usage_dekad_users`);
  }
}
