import { inject, injectable } from 'tsyringe';
import { DataSource } from 'typeorm';
import type { UsageRepository } from '../../application/ports/usage-repository.port';
import type { UsageRecord } from '../../domain/usage-record';

/** The metric columns every rollup table has, and how one batch of stored records adds to them. */
const METRICS: Array<[column: string, fromStored: string, merge: 'add' | 'max']> = [
  ['requests', 'count(*)', 'add'],
  ['errors', 'count(*) FILTER (WHERE NOT success)', 'add'],
  ['input_tokens', 'sum(input_tokens)', 'add'],
  ['output_tokens', 'sum(output_tokens)', 'add'],
  ['cached_input_tokens', 'sum(cached_input_tokens)', 'add'],
  ['cache_write_tokens', 'sum(cache_write_tokens)', 'add'],
  ['reasoning_tokens', 'sum(reasoning_tokens)', 'add'],
  ['total_tokens', 'sum(total_tokens)', 'add'],
  ['duration_ms_sum', 'coalesce(sum(duration_ms), 0)', 'add'],
  ['duration_count', 'count(duration_ms)', 'add'],
  ['cost', 'coalesce(sum(cost), 0)', 'add'],
  ['unpriced_requests', 'count(*) FILTER (WHERE cost IS NULL)', 'add'],
  ['last_occurred_at', 'max(occurred_at)', 'max'],
];

/**
 * Adds the stored records to one rollup. Rows are upserted in key order so that concurrent
 * batches lock shared rows in the same order and cannot deadlock. Only the per-user rollups
 * keep the latest occurrence (it is read as a user's last activity).
 */
function rollupUpsert(
  table: string,
  keys: Array<[column: string, expression: string]>,
  withLastOccurrence = false,
): string {
  const metrics = withLastOccurrence ? METRICS : METRICS.filter(([, , merge]) => merge === 'add');
  const keyColumns = keys.map(([column]) => column);
  const positions = keys.map((_, i) => String(i + 2)).join(', ');
  return `${table} AS (
  INSERT INTO ${table} AS r (workspace_id, ${keyColumns.join(', ')}, ${metrics.map(([c]) => c).join(', ')})
  SELECT $1, ${keys.map(([, e]) => e).join(', ')}, ${metrics.map(([, e]) => e).join(', ')}
  FROM stored GROUP BY ${positions} ORDER BY ${positions}
  ON CONFLICT (workspace_id, ${keyColumns.join(', ')}) DO UPDATE SET
    ${metrics.map(([c, , merge]) => (merge === 'add' ? `${c} = r.${c} + EXCLUDED.${c}` : `${c} = greatest(r.${c}, EXCLUDED.${c})`)).join(',\n    ')}
)`;
}

const HOUR = "date_trunc('hour', occurred_at, 'UTC')";
const DAY = "date_trunc('day', occurred_at, 'UTC')";
const MONTH = "date_trunc('month', occurred_at, 'UTC')";
/**
 * Every rollup. The per-user ones come first and the small ones that every batch of the
 * moment touches (a model-hour, a provider-hour) last: a batch holds the row locks it took
 * until it commits, so locking the shared rows late keeps concurrent batches waiting least.
 */
const ROLLUPS = [
  rollupUpsert(
    'usage_hourly',
    [
      ['bucket_start', HOUR],
      ['user_id', 'user_id'],
      ['provider', 'provider'],
      ['model', 'model'],
    ],
    true,
  ),
  rollupUpsert('usage_daily_user_models', [
    ['user_id', 'user_id'],
    ['day_start', DAY],
    ['provider', 'provider'],
    ['model', 'model'],
  ]),
  rollupUpsert(
    'usage_hourly_users',
    [
      ['bucket_start', HOUR],
      ['user_id', 'user_id'],
    ],
    true,
  ),
  rollupUpsert(
    'usage_daily_users',
    [
      ['day_start', DAY],
      ['user_id', 'user_id'],
    ],
    true,
  ),
  rollupUpsert('usage_monthly_user_models', [
    ['user_id', 'user_id'],
    ['month_start', MONTH],
    ['provider', 'provider'],
    ['model', 'model'],
  ]),
  rollupUpsert('usage_monthly_users', [
    ['month_start', MONTH],
    ['user_id', 'user_id'],
  ]),
  rollupUpsert('usage_monthly_models', [
    ['month_start', MONTH],
    ['provider', 'provider'],
    ['model', 'model'],
  ]),
  rollupUpsert('usage_daily_models', [
    ['day_start', DAY],
    ['provider', 'provider'],
    ['model', 'model'],
  ]),
  rollupUpsert('usage_hourly_models', [
    ['bucket_start', HOUR],
    ['provider', 'provider'],
    ['model', 'model'],
  ]),
  rollupUpsert('usage_monthly_providers', [
    ['month_start', MONTH],
    ['provider', 'provider'],
  ]),
  rollupUpsert('usage_daily_providers', [
    ['day_start', DAY],
    ['provider', 'provider'],
  ]),
  rollupUpsert('usage_hourly_providers', [
    ['bucket_start', HOUR],
    ['provider', 'provider'],
  ]),
].join(',\n');

/**
 * One statement per batch: claim request ids in the dedup ledger, store the records whose
 * id was new, and add exactly those to every rollup. All of it commits or none does,
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
${ROLLUPS}
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
