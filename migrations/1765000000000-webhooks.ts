import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * An endpoint's deliveries, for its delivery log and for the cascade when it is removed
 * (the primary key leads with the event).
 */
export class Webhooks1765000000000 implements MigrationInterface {
  name = 'Webhooks1765000000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (workspace_id, endpoint_id)`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP INDEX IF EXISTS webhook_deliveries_endpoint`);
  }
}
