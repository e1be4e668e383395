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
const SLOT = "date_bin('15 minutes', occurred_at, timestamptz '2000-01-01 00:00:00+00')";

/**
 * Usage by provider per 15 minutes, kept for the raw retention window only. Every UTC offset
 * is a multiple of 15 minutes, so a local midnight in India or Nepal falls on a slot
 * boundary: the provider charts of such zones read the hours a boundary cuts from here
 * instead of from the raw records. Pending rows now say their slot too; rows queued before
 * this migration have none, and their usage is in the slots already, which are filled from
 * the raw records here (ingest waits meanwhile, so that no record is missed or counted twice).
 */
export class ProviderSlotRollup1700000000009 implements MigrationInterface {
  name = 'ProviderSlotRollup1700000000009';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`LOCK TABLE usage_records IN SHARE MODE`);
    await db.query(`ALTER TABLE usage_pending ADD COLUMN slot_start timestamptz`);
    await db.query(`
      CREATE TABLE usage_slot_providers (
        workspace_id text        NOT NULL,
        slot_start   timestamptz NOT NULL,
        provider     text        NOT NULL,
        ${DEFINITIONS},
        PRIMARY KEY (workspace_id, slot_start, provider)
      ) WITH (fillfactor = 70)`);
    await db.query(`
      INSERT INTO usage_slot_providers (workspace_id, slot_start, provider, ${ADDITIVE.join(', ')})
      SELECT workspace_id, ${SLOT}, provider, count(*), count(*) FILTER (WHERE NOT success),
        sum(input_tokens), sum(output_tokens), sum(cached_input_tokens), sum(cache_write_tokens),
        sum(reasoning_tokens), sum(total_tokens), coalesce(sum(duration_ms), 0), count(duration_ms),
        coalesce(sum(cost), 0), count(*) FILTER (WHERE cost IS NULL)
      FROM usage_records GROUP BY 1, 2, 3`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP TABLE IF EXISTS usage_slot_providers`);
    await db.query(`ALTER TABLE usage_pending DROP COLUMN IF EXISTS slot_start`);
  }
}
