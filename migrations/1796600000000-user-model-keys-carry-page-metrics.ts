import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The user × model rollups whose primary key now carries the users page's metrics. */
const TABLES = [
  { table: 'usage_daily_user_models', time: 'day_start' },
  { table: 'usage_monthly_user_models', time: 'month_start' },
];

/**
 * The users page reads the models of the users on it (~600 rollup rows a user over 30 days
 * when users call many models), and visiting the table for each row was most of that read.
 * The primary keys of the daily and monthly user × model rollups now carry `requests` and
 * `total_tokens` (INCLUDE), so those rows come from the index alone wherever their pages are
 * all-visible (every past day once vacuumed).
 *
 * The price: a fold's update of such a row changes a carried column, so it is never a HOT
 * update and writes a new index entry. Rebuilding each key takes the table's lock for as long
 * as the build (seconds per million rows); the fold and the Usage tab wait meanwhile.
 */
export class UserModelKeysCarryPageMetrics1796600000000 implements MigrationInterface {
  name = 'UserModelKeysCarryPageMetrics1796600000000';

  async up(db: QueryRunner): Promise<void> {
    for (const { table, time } of TABLES) {
      await db.query(`ALTER TABLE ${table} DROP CONSTRAINT ${table}_pkey,
        ADD CONSTRAINT ${table}_pkey PRIMARY KEY (workspace_id, user_id, ${time}, provider, model, operation)
          INCLUDE (requests, total_tokens)`);
    }
  }

  async down(db: QueryRunner): Promise<void> {
    for (const { table, time } of TABLES) {
      await db.query(`ALTER TABLE ${table} DROP CONSTRAINT ${table}_pkey,
        ADD CONSTRAINT ${table}_pkey PRIMARY KEY (workspace_id, user_id, ${time}, provider, model, operation)`);
    }
  }
}
