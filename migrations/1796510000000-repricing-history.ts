import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The rollups as they stand at this migration: table, time column, its unit, dimensions. */
const ROLLUPS: Array<[table: string, time: string, unit: string, dimensions: string[]]> = [
  ['usage_hourly', 'bucket_start', 'hour', ['user_id', 'provider', 'model', 'operation']],
  ['usage_daily_user_models', 'day_start', 'day', ['user_id', 'provider', 'model', 'operation']],
  ['usage_monthly_user_models', 'month_start', 'month', ['user_id', 'provider', 'model', 'operation']],
  ['usage_daily_users', 'day_start', 'day', ['user_id']],
  ['usage_monthly_users', 'month_start', 'month', ['user_id']],
  ['usage_hourly_models', 'bucket_start', 'hour', ['provider', 'model', 'operation']],
  ['usage_daily_models', 'day_start', 'day', ['provider', 'model', 'operation']],
  ['usage_monthly_models', 'month_start', 'month', ['provider', 'model', 'operation']],
  ['usage_hourly_providers', 'bucket_start', 'hour', ['provider']],
  ['usage_daily_providers', 'day_start', 'day', ['provider']],
  ['usage_slot_providers', 'slot_start', 'slot', ['provider']],
];

const SLOT = "date_bin('15 minutes', occurred_at, timestamptz '2000-01-01 00:00:00+00')";
const ofHour = (unit: string, column: string) =>
  unit === 'slot' ? 'slot_start' : unit === 'hour' ? column : `date_trunc('${unit}', bucket_start, 'UTC')`;

/**
 * Every rollup (and usage_pending) counts the records whose cost the client provided, which
 * re-pricing never changes. Past raw retention it tells which hours re-pricing may price
 * again from their token sums: those without any.
 *
 * Filled in from the raw records less what is still pending, where the records are kept
 * (one pass over them, for the provided ones only).
 * Rows of months whose raw records are gone cannot say which of their priced records the
 * client priced: they count every priced one (requests − unpriced_requests), so re-pricing
 * leaves their cost as it is and says so, rather than guessing.
 *
 * repricing_quota_deltas: what an applied re-pricing changes in the users' quota counts,
 * written in its transaction and added to quota_usage right after it (outside it: ingest
 * updates those rows all the time, which a re-pricing's snapshot must not conflict with).
 */
export class RepricingHistory1796510000000 implements MigrationInterface {
  name = 'RepricingHistory1796510000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE repricing_quota_deltas (
        workspace_id text        NOT NULL,
        run_id       uuid        NOT NULL,
        user_id      text        NOT NULL,
        period_start timestamptz NOT NULL,
        cost         numeric     NOT NULL,
        PRIMARY KEY (workspace_id, run_id, user_id, period_start)
      )`);
    for (const table of ['usage_pending', ...ROLLUPS.map(([t]) => t)]) {
      await db.query(`ALTER TABLE ${table} ADD COLUMN provided_requests bigint NOT NULL DEFAULT 0`);
    }
    // the provided records, by hour, slot and every dimension: few, where clients send costs rarely
    await db.query(`
      CREATE TEMPORARY TABLE provided ON COMMIT DROP AS
      SELECT workspace_id, date_trunc('hour', occurred_at, 'UTC') AS bucket_start, ${SLOT} AS slot_start,
        user_id, provider, model, coalesce(operation, '') AS operation, count(*)::bigint AS n
      FROM usage_records WHERE cost_status = 'provided' GROUP BY 1, 2, 3, 4, 5, 6, 7`);
    const fine = ['workspace_id', 'bucket_start', 'slot_start', 'user_id', 'provider', 'model', 'operation'];
    // a pending row holds some of its key's records: at most all of their provided ones; the
    // rollups hold the rest
    await db.query(`
      UPDATE usage_pending p SET provided_requests = least(p.requests, x.n)
      FROM provided x WHERE ${fine.map((k) => `p.${k} = x.${k}`).join(' AND ')}`);
    await db.query(`
      UPDATE provided x SET n = x.n - p.provided_requests
      FROM (SELECT ${fine.join(', ')}, sum(provided_requests) AS provided_requests FROM usage_pending
            WHERE provided_requests > 0 GROUP BY ${fine.join(', ')}) p
      WHERE ${fine.map((k) => `p.${k} = x.${k}`).join(' AND ')}`);
    const kept = (await db.query(`
      SELECT to_timestamp(substr(c.relname, length('usage_records_p') + 1), 'YYYYMM')::timestamp AT TIME ZONE 'UTC' AS month
      FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
      WHERE i.inhparent = 'usage_records'::regclass AND c.relname ~ '^usage_records_p[0-9]{6}$'`)) as Array<{
      month: Date;
    }>;
    const keptMonths = kept.map((k) => k.month.toISOString());
    for (const [table, time, unit, dimensions] of ROLLUPS) {
      const keys = ['workspace_id', time, ...dimensions];
      await db.query(`
        UPDATE ${table} t SET provided_requests = x.n
        FROM (SELECT workspace_id, ${ofHour(unit, time)} AS ${time}, ${dimensions.join(', ')}, sum(n)::bigint AS n
              FROM provided GROUP BY ${keys.map((_, i) => i + 1).join(', ')}) x
        WHERE ${keys.map((k) => `t.${k} = x.${k}`).join(' AND ')}`);
      if (unit === 'slot') continue;
      await db.query(
        `UPDATE ${table} SET provided_requests = requests - unpriced_requests
         WHERE requests > unpriced_requests AND date_trunc('month', ${time}, 'UTC') <> ALL ($1::timestamptz[])`,
        [keptMonths],
      );
    }
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP TABLE repricing_quota_deltas`);
    for (const table of ['usage_pending', ...ROLLUPS.map(([t]) => t)]) {
      await db.query(`ALTER TABLE ${table} DROP COLUMN provided_requests`);
    }
  }
}
