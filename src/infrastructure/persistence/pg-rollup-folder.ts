import type { DataSource } from 'typeorm';

/** Each rollup metric and how pending sums add to it. */
const METRICS: Array<[column: string, merge: 'add' | 'max']> = [
  ['requests', 'add'],
  ['errors', 'add'],
  ['input_tokens', 'add'],
  ['output_tokens', 'add'],
  ['cached_input_tokens', 'add'],
  ['cache_write_tokens', 'add'],
  ['reasoning_tokens', 'add'],
  ['total_tokens', 'add'],
  ['duration_ms_sum', 'add'],
  ['duration_count', 'add'],
  ['cost', 'add'],
  ['unpriced_requests', 'add'],
  ['last_occurred_at', 'max'],
];

/**
 * Adds the moved pending rows to one rollup. Rows are upserted in key order, and only one
 * fold runs at a time, so no two writers of a rollup ever wait on each other in a cycle.
 * Only the per-user rollups keep the latest occurrence (read as a user's last activity).
 */
function rollupUpsert(
  table: string,
  keys: Array<[column: string, expression: string]>,
  withLastOccurrence = false,
): string {
  const metrics = withLastOccurrence ? METRICS : METRICS.filter(([, merge]) => merge === 'add');
  const keyColumns = ['workspace_id', ...keys.map(([column]) => column)];
  const positions = keyColumns.map((_, i) => String(i + 1)).join(', ');
  return `${table} AS (
  INSERT INTO ${table} AS r (${keyColumns.join(', ')}, ${metrics.map(([c]) => c).join(', ')})
  SELECT workspace_id, ${keys.map(([, e]) => e).join(', ')}, ${metrics.map(([c, merge]) => `${merge === 'add' ? 'sum' : 'max'}(${c})`).join(', ')}
  FROM moved GROUP BY ${positions} ORDER BY ${positions}
  ON CONFLICT (${keyColumns.join(', ')}) DO UPDATE SET
    ${metrics.map(([c, merge]) => (merge === 'add' ? `${c} = r.${c} + EXCLUDED.${c}` : `${c} = greatest(r.${c}, EXCLUDED.${c})`)).join(',\n    ')}
)`;
}

const HOUR = 'bucket_start';
const DAY = "date_trunc('day', bucket_start, 'UTC')";
const MONTH = "date_trunc('month', bucket_start, 'UTC')";
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
  rollupUpsert('usage_monthly_user_models', [
    ['user_id', 'user_id'],
    ['month_start', MONTH],
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
  rollupUpsert('usage_monthly_users', [
    ['month_start', MONTH],
    ['user_id', 'user_id'],
  ]),
  rollupUpsert('usage_hourly_models', [
    ['bucket_start', HOUR],
    ['provider', 'provider'],
    ['model', 'model'],
  ]),
  rollupUpsert('usage_daily_models', [
    ['day_start', DAY],
    ['provider', 'provider'],
    ['model', 'model'],
  ]),
  rollupUpsert('usage_monthly_models', [
    ['month_start', MONTH],
    ['provider', 'provider'],
    ['model', 'model'],
  ]),
  rollupUpsert('usage_hourly_providers', [
    ['bucket_start', HOUR],
    ['provider', 'provider'],
  ]),
  rollupUpsert('usage_daily_providers', [
    ['day_start', DAY],
    ['provider', 'provider'],
  ]),
  rollupUpsert('usage_monthly_providers', [
    ['month_start', MONTH],
    ['provider', 'provider'],
  ]),
].join(',\n');

/** Taken by every fold and by erasure: one of them at a time touches the rollups. */
export const ROLLUP_LOCK_KEY = 727_412_002;

/** Batches folded per transaction at most: a backlog is worked off in bounded steps. */
const MAX_BATCHES = 200;

/**
 * Moves the oldest pending batches into every rollup, in one statement: the pending rows
 * disappear exactly when their sums appear in the rollups, so a query (one snapshot) counts
 * each of them once, from one side or the other.
 */
const FOLD = `
WITH moved AS (
  DELETE FROM usage_pending
  WHERE batch_id < (SELECT min(batch_id) FROM usage_pending) + ${MAX_BATCHES}
  RETURNING *
),
${ROLLUPS}
SELECT count(*)::int AS rows FROM moved`;

/**
 * Folds pending batches until none is left, another process is folding, or `maxRounds`
 * transactions ran; returns the number of pending rows folded.
 */
export async function foldPending(db: DataSource, maxRounds = Number.POSITIVE_INFINITY): Promise<number> {
  let folded = 0;
  for (let round = 0; round < maxRounds; round += 1) {
    const moved = await db.transaction(async (tx) => {
      const [lock] = (await tx.query('SELECT pg_try_advisory_xact_lock($1) AS ok', [ROLLUP_LOCK_KEY])) as Array<{
        ok: boolean;
      }>;
      if (!lock?.ok) return 0;
      const [row] = (await tx.query(FOLD)) as Array<{ rows: number }>;
      return row?.rows ?? 0;
    });
    if (moved === 0) return folded;
    folded += moved;
  }
  return folded;
}

/**
 * The service's background fold: every `intervalMs`, and at once again while there was
 * something to fold. Failures are reported and retried on the next round.
 */
export function startRollupFolder(
  db: DataSource,
  onError: (error: unknown) => void,
  intervalMs = 250,
): { stop(): Promise<void> } {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  const round = (): void => {
    running = foldPending(db, 20)
      .then(
        () => undefined,
        (error: unknown) => {
          if (!stopped) onError(error);
        },
      )
      .then(() => {
        if (!stopped) timer = setTimeout(round, intervalMs);
      });
  };
  timer = setTimeout(round, intervalMs);
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
