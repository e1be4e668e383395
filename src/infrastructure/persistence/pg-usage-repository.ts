import { inject, injectable } from 'tsyringe';
import { DataSource } from 'typeorm';
import type { UsageRepository } from '../../application/ports/usage-repository.port';
import type { UsageRecord } from '../../domain/usage-record';
import { PENDING, PENDING_COLUMNS, pendingFromRecords } from './rollup-registry';

/**
 * One statement per batch: claim request ids in the dedup ledger, store the records whose
 * id was new, and queue exactly those for the rollups (usage_pending, which the service
 * folds into every rollup in the background; queries read it too). All of it commits or
 * none does, so a failed write followed by a retry still counts once.
 */
const INSERT_NEW = `
WITH input AS (
  SELECT * FROM unnest(
    $2::text[], $3::timestamptz[], $4::text[], $5::text[], $6::text[], $7::text[],
    $8::bigint[], $9::bigint[], $10::bigint[], $11::bigint[], $12::bigint[], $13::bigint[],
    $14::integer[], $15::boolean[], $16::text[], $17::numeric[], $18::text[], $19::jsonb[]
  ) AS t(request_id, occurred_at, user_id, provider, model, operation,
         input_tokens, output_tokens, cached_input_tokens, cache_write_tokens, reasoning_tokens, total_tokens,
         duration_ms, success, error, cost, cost_status, metadata)
),
claimed AS (
  INSERT INTO usage_request_ids (workspace_id, request_id, occurred_at)
  SELECT $1, request_id, occurred_at FROM input
  -- claim in one global order: overlapping batches sent concurrently in different orders
  -- would otherwise wait on each other's ids and deadlock
  ORDER BY request_id
  ON CONFLICT DO NOTHING
  RETURNING request_id
),
stored AS (
  INSERT INTO usage_records (workspace_id, request_id, occurred_at, user_id, provider, model, operation,
    input_tokens, output_tokens, cached_input_tokens, cache_write_tokens, reasoning_tokens, total_tokens,
    duration_ms, success, error, cost, cost_status, metadata)
  SELECT $1, i.request_id, i.occurred_at, i.user_id, i.provider, i.model, i.operation,
    i.input_tokens, i.output_tokens, i.cached_input_tokens, i.cache_write_tokens, i.reasoning_tokens, i.total_tokens,
    i.duration_ms, i.success, i.error, i.cost, i.cost_status, i.metadata
  FROM input i JOIN claimed c USING (request_id)
  RETURNING occurred_at, user_id, provider, model, success, input_tokens, output_tokens, cached_input_tokens,
    cache_write_tokens, reasoning_tokens, total_tokens, duration_ms, cost
),
pending AS (
  INSERT INTO ${PENDING.table} (${PENDING_COLUMNS.join(', ')})
  ${pendingFromRecords('stored', '$1')}
)
SELECT count(*)::int AS inserted FROM stored`;

@injectable()
export class PgUsageRepository implements UsageRepository {
  constructor(@inject(DataSource) private readonly db: DataSource) {}

  async insertNew(workspaceId: string, records: ReadonlyArray<UsageRecord>): Promise<number> {
    const column = <T>(pick: (record: UsageRecord) => T): T[] => records.map(pick);
    const rows = (await this.db.query(INSERT_NEW, [
      workspaceId,
      column((r) => r.requestId),
      column((r) => r.occurredAt.toISOString()),
      column((r) => r.userId),
      column((r) => r.provider),
      column((r) => r.model),
      column((r) => r.operation),
      column((r) => r.inputTokens),
      column((r) => r.outputTokens),
      column((r) => r.cachedInputTokens),
      column((r) => r.cacheWriteTokens),
      column((r) => r.reasoningTokens),
      column((r) => r.totalTokens),
      column((r) => r.durationMs),
      column((r) => r.success),
      column((r) => r.error),
      column((r) => (r.cost ? r.cost.toString() : null)),
      column((r) => r.costStatus),
      column((r) => (r.metadata ? JSON.stringify(r.metadata) : null)),
    ])) as Array<{ inserted: number }>;
    return rows[0]?.inserted ?? 0;
  }
}
