import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Pending usage found by user. The Usage tab asks for one user's pending rows at a time (the
 * users page's models and last activity of each user on it, a user's own charts); through the
 * index by workspace and hour each such read walked every pending row of the range: with
 * 20,000 rows of one day pending (a backlog), 559 pages for one user's rows, against 4 with
 * this index. The user comes first, so that only a read that names one takes this index; a
 * read of a workspace's range keeps the hour index, whose entries deduplicate (25 pages for
 * those 20,000 rows, against ~190 here).
 */
export class PendingByUser1796620000000 implements MigrationInterface {
  name = 'PendingByUser1796620000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`CREATE INDEX usage_pending_user ON usage_pending (user_id, workspace_id, bucket_start)`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP INDEX usage_pending_user`);
  }
}
