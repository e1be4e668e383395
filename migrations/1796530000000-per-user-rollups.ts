import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The metric columns of the per-user rollups at this migration. */
const METRICS = [
  ...[
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
  ].map((name) => [name, 'bigint']),
  ['cost', 'numeric'],
];

/** Taken by every fold: while this runs, no fold adds to the rows these are filled from. */
const ROLLUP_LOCK_KEY = 727_412_002;

/** A UTC dekad's start (the 1st, 11th or 21st) of an instant, in UTC wall time. */
const dekadOf = (instant: string): string => `((date_trunc('month', ${instant} AT TIME ZONE 'UTC')
  + make_interval(days => least((extract(day FROM ${instant} AT TIME ZONE 'UTC')::int - 1) / 10, 2) * 10)) AT TIME ZONE 'UTC')`;

/** The new rollups: table, time column, its value over the source's time, source table and its time. */
const ROLLUPS: Array<[table: string, time: string, fromSource: string, source: string]> = [
  // a user's chart by local day reads each day's edge hours: one row a user, not one for every
  // model and operation they called (~50 an hour for the bench's heaviest "any model" user)
  ['usage_hourly_users', 'bucket_start', 'bucket_start', 'usage_hourly'],
  // the 1st–10th, 11th–20th and 21st to the end of a month: a range from the middle of a month
  // read up to fifteen daily rows a user (the month less the days before, or the days to its
  // end), now at most a dekad and five days
  ['usage_dekad_users', 'dekad_start', dekadOf('day_start'), 'usage_daily_users'],
];

/**
 * Each user's usage per UTC hour and per UTC dekad, beside their days and months. Filled from
 * the rollups they sum; what is still pending goes into them when it is folded. Instances of
 * the previous version must be stopped before this one starts: their fold would not add to them.
 */
export class PerUserRollups1796530000000 implements MigrationInterface {
  name = 'PerUserRollups1796530000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query('SELECT pg_advisory_xact_lock($1)', [ROLLUP_LOCK_KEY]);
    const names = METRICS.map(([name]) => name);
    for (const [table, time, fromSource, source] of ROLLUPS) {
      await db.query(`
        CREATE TABLE ${table} (
          workspace_id text NOT NULL,
          ${time} timestamptz NOT NULL,
          user_id text NOT NULL,
          ${METRICS.map(([name, type]) => `${name} ${type} NOT NULL`).join(',\n          ')},
          PRIMARY KEY (workspace_id, ${time}, user_id)
        ) WITH (fillfactor = 70)`);
      await db.query(`CREATE INDEX ${table}_user ON ${table} (workspace_id, user_id, ${time})`);
      await db.query(`
        INSERT INTO ${table} (workspace_id, ${time}, user_id, ${names.join(', ')})
        SELECT workspace_id, ${fromSource}, user_id, ${names.map((n) => `sum(${n})`).join(', ')}
        FROM ${source} GROUP BY 1, 2, 3`);
    }
  }

  async down(db: QueryRunner): Promise<void> {
    for (const [table] of ROLLUPS) await db.query(`DROP TABLE ${table}`);
  }
}
