import { inject, injectable } from 'tsyringe';
import { DataSource } from 'typeorm';
import type { Settings } from '../../application/ports/settings.port';
import { TOKENS } from '../../application/ports/tokens';
import type { UsageRepository } from '../../application/ports/usage-repository.port';
import { showsCost } from '../../domain/deployment-mode';
import type { UsageRecord } from '../../domain/usage-record';
import { PENDING, PENDING_COLUMNS, pendingFromRecords } from './rollup-registry';
import { quotaCountingCtes } from './quota-counting';

/**
 * One statement per batch: claim request ids in the dedup ledger, store the records whose
 * id was new, and queue exactly those for the rollups (usage_pending, which the service
 * folds into every rollup in the background; queries read it too), and count them in their
 * users' quotas (quota-counting.ts). All of it commits or none does, so a failed write
 * followed by a retry still counts once.
 */
const INSERT_NEW = `
WITH input AS (
  SELECT * FROM json_to_recordset($2::json) AS t(request_id text, occurred_at timestamptz, user_id text,
    provider text, model text, operation text, input_tokens bigint, output_tokens bigint, cached_input_tokens bigint,
    cache_write_tokens bigint, reasoning_tokens bigint, total_tokens bigint, duration_ms integer, success boolean,
    error text, cost numeric, cost_status text, token_source text, metadata jsonb)
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
    duration_ms, success, error, cost, cost_status, token_source, metadata)
  SELECT $1, i.request_id, i.occurred_at, i.user_id, i.provider, i.model, i.operation,
    i.input_tokens, i.output_tokens, i.cached_input_tokens, i.cache_write_tokens, i.reasoning_tokens, i.total_tokens,
    i.duration_ms, i.success, i.error, i.cost, i.cost_status, i.token_source, i.metadata
  FROM input i JOIN claimed c USING (request_id)
  RETURNING request_id, occurred_at, user_id, provider, model, operation, success, input_tokens, output_tokens, cached_input_tokens,
    cache_write_tokens, reasoning_tokens, total_tokens, duration_ms, cost, cost_status
),
pending AS (
  INSERT INTO ${PENDING.table} (${PENDING_COLUMNS.join(', ')})
  ${pendingFromRecords('stored', '$1')}
),
${quotaCountingCtes('stored', '$1', '$3::boolean')}
SELECT count(*)::int AS inserted FROM stored`;

/**
 * The string as UTF-8 can carry it: a lone surrogate becomes U+FFFD, as the driver's UTF-8
 * encoding made it before (JSON would escape it, and PostgreSQL refuses the escape).
 */
function wellFormed(value: string): string {
  // Node 20 has both (ES2024); the compiler's library here stops at ES2023
  const text = value as string & { isWellFormed(): boolean; toWellFormed(): string };
  return text.isWellFormed() ? value : text.toWellFormed();
}

@injectable()
export class PgUsageRepository implements UsageRepository {
  private readonly showsCost: boolean;

  constructor(
    @inject(DataSource) private readonly db: DataSource,
    @inject(TOKENS.Settings) settings: Settings,
  ) {
    this.showsCost = showsCost(settings.deploymentMode);
  }

  async insertNew(workspaceId: string, records: ReadonlyArray<UsageRecord>): Promise<number> {
    // one JSON document rather than nineteen arrays: the driver writes arrays as text at about
    // 3 µs and 4 KB of garbage per record, JSON.stringify at a fifth of that; cost goes as a
    // decimal string, so PostgreSQL reads it exactly
    const batch = JSON.stringify(
      records.map((r) => ({
        request_id: wellFormed(r.requestId),
        occurred_at: r.occurredAt.toISOString(),
        user_id: wellFormed(r.userId),
        provider: wellFormed(r.provider),
        model: wellFormed(r.model),
        operation: r.operation === null ? null : wellFormed(r.operation),
        input_tokens: r.inputTokens,
        output_tokens: r.outputTokens,
        cached_input_tokens: r.cachedInputTokens,
        cache_write_tokens: r.cacheWriteTokens,
        reasoning_tokens: r.reasoningTokens,
        total_tokens: r.totalTokens,
        duration_ms: r.durationMs,
        success: r.success,
        error: r.error === null ? null : wellFormed(r.error),
        cost: r.cost ? r.cost.toString() : null,
        cost_status: r.costStatus,
        token_source: r.tokenSource,
        metadata: r.metadata ?? null,
      })),
    );
    const rows = (await this.db.query(INSERT_NEW, [workspaceId, batch, this.showsCost])) as Array<{ inserted: number }>;
    return rows[0]?.inserted ?? 0;
  }
}
