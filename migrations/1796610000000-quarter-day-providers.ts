import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Taken by every fold: while this runs, no fold adds to the rows the new table is filled from. */
const ROLLUP_LOCK_KEY = 727_412_002;

/** The start of the UTC quarter of a day (00:00, 06:00, 12:00, 18:00 UTC) of an instant. */
const quarterOf = (instant: string): string => `date_bin('6 hours', ${instant}, timestamptz '2000-01-01 00:00:00+00')`;

/**
 * Each provider's usage per UTC quarter of a day (6 hours), beside its hours and days. A chart
 * by local day in a zone far from UTC midnight read each day's edges as hours: a day in India
 * (18:30 to 18:30 UTC) was its UTC day less 5½ hours plus 5½ hours of the day before, ~11 hourly
 * rows a provider; with quarters it is 3–4. Same columns as the hourly provider rollup, filled
 * from it; what is still pending goes into it when it is folded. Instances of the previous
 * version must be stopped before this one starts: their fold would not add to it.
 */
export class QuarterDayProviders1796610000000 implements MigrationInterface {
  name = 'QuarterDayProviders1796610000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query('SELECT pg_advisory_xact_lock($1)', [ROLLUP_LOCK_KEY]);
    await db.query(`
      CREATE TABLE usage_quarter_providers (LIKE usage_hourly_providers INCLUDING DEFAULTS INCLUDING CONSTRAINTS)
      WITH (fillfactor = 70)`);
    await db.query(`ALTER TABLE usage_quarter_providers RENAME COLUMN bucket_start TO quarter_start`);
    await db.query(`ALTER TABLE usage_quarter_providers ADD PRIMARY KEY (workspace_id, quarter_start, provider)`);
    const metrics = (await db.query(
      `SELECT column_name AS name, data_type AS type FROM information_schema.columns
       WHERE table_schema = current_schema() AND table_name = 'usage_hourly_providers'
         AND column_name NOT IN ('workspace_id', 'bucket_start', 'provider')
       ORDER BY ordinal_position`,
    )) as Array<{ name: string; type: string }>;
    const names = metrics.map((m) => m.name);
    // every metric of a provider rollup is a sum but a latest occurrence, should one keep it
    const combined = metrics.map((m) => (m.type.startsWith('timestamp') ? `max(${m.name})` : `sum(${m.name})`));
    await db.query(`
      INSERT INTO usage_quarter_providers (workspace_id, quarter_start, provider, ${names.join(', ')})
      SELECT workspace_id, ${quarterOf('bucket_start')}, provider, ${combined.join(', ')}
      FROM usage_hourly_providers GROUP BY 1, 2, 3`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP TABLE usage_quarter_providers`);
  }
}
