import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * One user's hours (user detail, own usage, a userId filter) are read from
 * usage_hourly_users; its primary key leads with the hour, so without this index such a
 * query walks every user's rows of the range.
 */
export class UserHourlyIndex1700000000003 implements MigrationInterface {
  name = 'UserHourlyIndex1700000000003';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`CREATE INDEX usage_hourly_users_user ON usage_hourly_users (workspace_id, user_id, bucket_start)`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP INDEX IF EXISTS usage_hourly_users_user`);
  }
}
