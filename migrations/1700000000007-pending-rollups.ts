import type { MigrationInterface, QueryRunner } from 'typeorm';

const ADDITIVE = [
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
  'cost',
  'unpriced_requests',
];
const DEFINITIONS = ADDITIVE.map((c) => `${c} ${c === 'cost' ? 'numeric' : 'bigint'} NOT NULL`).join(',\n  ');

/**
 * Ingest no longer upserts every rollup itself: each batch inserts its sums per hour, user,
 * provider and model here, in its own transaction, and the service folds these rows into the
 * rollups in the background — many batches at a time, so that the coarse rollups see one
 * upsert per key instead of one per batch. Queries read this table as one more hourly
 * source, so answers stay exact before a batch is folded. Rows live for moments: vacuum
 * it often. It has no primary key (rows of the same hour, user and model from different
 * batches are simply summed) and one index, for the queries.
 */
export class PendingRollups1700000000007 implements MigrationInterface {
  name = 'PendingRollups1700000000007';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE usage_pending (
        workspace_id     text        NOT NULL,
        bucket_start     timestamptz NOT NULL,
        user_id          text        NOT NULL,
        provider         text        NOT NULL,
        model            text        NOT NULL,
        ${DEFINITIONS},
        last_occurred_at timestamptz NOT NULL
      ) WITH (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 10000,
              autovacuum_vacuum_insert_scale_factor = 0, autovacuum_vacuum_insert_threshold = 10000)`);
    await db.query(`CREATE INDEX usage_pending_hour ON usage_pending (workspace_id, bucket_start)`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP TABLE IF EXISTS usage_pending`);
  }
}
