import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Where a record's token counts came from: `reported` by the provider, or `estimated` by
 * a tokenizer (a proxied stream that was cut short before the provider reported usage).
 * A constant default makes the new column a catalog change on the partitioned table and
 * every partition: no row is rewritten. No CHECK constraint: one would scan every partition,
 * and the value only ever comes from the service's own two-valued type.
 */
export class TokenSource1796447186253 implements MigrationInterface {
  name = 'TokenSource1796447186253';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE usage_records ADD COLUMN token_source text NOT NULL DEFAULT 'reported'`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE usage_records DROP COLUMN token_source`);
  }
}
