import { inject, injectable } from 'tsyringe';
import { DataSource } from 'typeorm';
import type { UsageRepository } from '../../application/ports/usage-repository.port';
import type { UsageRecord } from '../../domain/usage-record';

/**
 * One statement per batch: claim request ids in the dedup ledger, store the records whose
 * id was new, and add exactly those to the hourly rollup. All of it commits or none does,
 * so a failed write followed by a retry still counts once.
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
rolled AS (
  INSERT INTO usage_hourly AS h (workspace_id, bucket_start, user_id, provider, model, requests, errors,
    input_tokens, output_tokens, cached_input_tokens, cache_write_tokens, reasoning_tokens, total_tokens,
    duration_ms_sum, duration_count, cost, unpriced_requests, last_occurred_at)
  SELECT $1, date_trunc('hour', occurred_at, 'UTC'), user_id, provider, model, count(*), count(*) FILTER (WHERE NOT success),
    sum(input_tokens), sum(output_tokens), sum(cached_input_tokens), sum(cache_write_tokens), sum(reasoning_tokens),
    sum(total_tokens), coalesce(sum(duration_ms), 0), count(duration_ms), coalesce(sum(cost), 0),
    count(*) FILTER (WHERE cost IS NULL), max(occurred_at)
  FROM stored
  GROUP BY 2, 3, 4, 5
  ORDER BY 2, 3, 4, 5
  ON CONFLICT (workspace_id, bucket_start, user_id, provider, model) DO UPDATE SET
    requests = h.requests + EXCLUDED.requests,
    errors = h.errors + EXCLUDED.errors,
    input_tokens = h.input_tokens + EXCLUDED.input_tokens,
    output_tokens = h.output_tokens + EXCLUDED.output_tokens,
    cached_input_tokens = h.cached_input_tokens + EXCLUDED.cached_input_tokens,
    cache_write_tokens = h.cache_write_tokens + EXCLUDED.cache_write_tokens,
    reasoning_tokens = h.reasoning_tokens + EXCLUDED.reasoning_tokens,
    total_tokens = h.total_tokens + EXCLUDED.total_tokens,
    duration_ms_sum = h.duration_ms_sum + EXCLUDED.duration_ms_sum,
    duration_count = h.duration_count + EXCLUDED.duration_count,
    cost = h.cost + EXCLUDED.cost,
    unpriced_requests = h.unpriced_requests + EXCLUDED.unpriced_requests,
    last_occurred_at = greatest(h.last_occurred_at, EXCLUDED.last_occurred_at)
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
