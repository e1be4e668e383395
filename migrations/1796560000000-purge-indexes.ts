import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Reservations and webhook events are forgotten by age (maintenance.ts): at 2,000
 * reservations a second the table would otherwise grow by ~170M rows a day. Rows arrive in
 * time order, so a BRIN index on the creation time finds the old ones for a few pages of index
 * and costs ingest and reservations next to nothing.
 */
export class PurgeIndexes1796560000000 implements MigrationInterface {
  name = 'PurgeIndexes1796560000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`CREATE INDEX quota_reservations_created ON quota_reservations USING brin (created_at)`);
    await db.query(`CREATE INDEX webhook_events_created ON webhook_events USING brin (created_at)`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP INDEX webhook_events_created`);
    await db.query(`DROP INDEX quota_reservations_created`);
  }
}
