import type { DataSource } from 'typeorm';
import { ADDITIVE_METRICS } from './rollup-metrics';

interface Delta {
  /** the rollup it is added to */
  table: string;
  /** the delta it is summed from, or the moved pending rows */
  from: string;
  /** key columns after workspace_id, each with its expression over `from` */
  keys: Array<[column: string, expression: string]>;
  /** whether its rollup keeps the latest occurrence (only usage_daily_users: a user's last activity) */
  last?: boolean;
  /** which rows of `from` it sums, when not all */
  where?: string;
}

const DAY_OF = (column: string): string => `date_trunc('day', ${column}, 'UTC')`;
const MONTH_OF = (column: string): string => `date_trunc('month', ${column}, 'UTC')`;
const same = (...columns: string[]): Array<[string, string]> => columns.map((c) => [c, c]);

/**
 * What the moved rows add to each rollup, each summed from the finest delta that has its
 * keys (a day from its hours, a month from its days), so that most sums run over a few
 * rows rather than over every moved row. Every delta comes after the one it is summed from.
 */
const DELTAS: Delta[] = [
  { table: 'usage_hourly', from: 'moved', keys: same('bucket_start', 'user_id', 'provider', 'model') },
  {
    table: 'usage_daily_user_models',
    from: 'usage_hourly',
    keys: [['user_id', 'user_id'], ['day_start', DAY_OF('bucket_start')], ...same('provider', 'model')],
  },
  {
    table: 'usage_monthly_user_models',
    from: 'usage_daily_user_models',
    keys: [['user_id', 'user_id'], ['month_start', MONTH_OF('day_start')], ...same('provider', 'model')],
  },
  { table: 'usage_daily_users', from: 'usage_daily_user_models', keys: same('day_start', 'user_id'), last: true },
  {
    table: 'usage_monthly_users',
    from: 'usage_daily_users',
    keys: [['month_start', MONTH_OF('day_start')], ...same('user_id')],
  },
  { table: 'usage_hourly_models', from: 'usage_hourly', keys: same('bucket_start', 'provider', 'model') },
  {
    table: 'usage_daily_models',
    from: 'usage_hourly_models',
    keys: [['day_start', DAY_OF('bucket_start')], ...same('provider', 'model')],
  },
  {
    table: 'usage_monthly_models',
    from: 'usage_daily_models',
    keys: [['month_start', MONTH_OF('day_start')], ...same('provider', 'model')],
  },
  { table: 'usage_hourly_providers', from: 'usage_hourly_models', keys: same('bucket_start', 'provider') },
  { table: 'usage_daily_providers', from: 'usage_daily_models', keys: same('day_start', 'provider') },
  { table: 'usage_monthly_providers', from: 'usage_monthly_models', keys: same('month_start', 'provider') },
  // rows queued before the slots existed have no slot: their usage is in the slots already
  {
    table: 'usage_slot_providers',
    from: 'moved',
    keys: same('slot_start', 'provider'),
    where: 'slot_start IS NOT NULL',
  },
];

/** The deltas that carry the latest occurrence: those whose rollup keeps it, and their sources. */
const CARRIES_LAST = new Set<string>();
for (const delta of [...DELTAS].reverse()) {
  if (delta.last || DELTAS.some((child) => child.from === delta.table && CARRIES_LAST.has(child.table))) {
    CARRIES_LAST.add(delta.table);
  }
}

function deltaSums(delta: Delta): string {
  const positions = ['workspace_id', ...delta.keys].map((_, i) => String(i + 1)).join(', ');
  const last = CARRIES_LAST.has(delta.table) ? ', max(last_occurred_at) AS last_occurred_at' : '';
  return `delta_${delta.table} AS (
  SELECT workspace_id, ${delta.keys.map(([column, expression]) => `${expression} AS ${column}`).join(', ')},
    ${ADDITIVE_METRICS.map((c) => `sum(${c}) AS ${c}`).join(', ')}${last}
  FROM ${delta.from === 'moved' ? 'moved' : `delta_${delta.from}`}${delta.where ? ` WHERE ${delta.where}` : ''}
  GROUP BY ${positions}
)`;
}

/**
 * Adds a delta to its rollup. Rows are upserted in key order, and only one fold runs at a
 * time, so no two writers of a rollup ever wait on each other in a cycle.
 */
function deltaUpsert(delta: Delta): string {
  const keyColumns = ['workspace_id', ...delta.keys.map(([column]) => column)];
  const columns = [...keyColumns, ...ADDITIVE_METRICS, ...(delta.last ? ['last_occurred_at'] : [])];
  const updates = [
    ...ADDITIVE_METRICS.map((c) => `${c} = r.${c} + EXCLUDED.${c}`),
    ...(delta.last ? ['last_occurred_at = greatest(r.last_occurred_at, EXCLUDED.last_occurred_at)'] : []),
  ];
  return `upsert_${delta.table} AS (
  INSERT INTO ${delta.table} AS r (${columns.join(', ')})
  SELECT ${columns.join(', ')} FROM delta_${delta.table} ORDER BY ${keyColumns.join(', ')}
  ON CONFLICT (${keyColumns.join(', ')}) DO UPDATE SET
    ${updates.join(',\n    ')}
)`;
}

/** Taken by every fold and by erasure: one of them at a time touches the rollups. */
export const ROLLUP_LOCK_KEY = 727_412_002;

/** Pending rows folded per transaction at most: a backlog is worked off in bounded steps. */
const MAX_ROWS = 100_000;

/**
 * Moves pending rows into every rollup, in one statement: the pending rows disappear exactly
 * when their sums appear in the rollups, so a query (one snapshot) counts each of them once,
 * from one side or the other. Which rows go together does not matter; they are picked by
 * their place in the table, the cheapest way to find some.
 */
export const FOLD = `
WITH moved AS (
  DELETE FROM usage_pending
  WHERE ctid = ANY (ARRAY(SELECT ctid FROM usage_pending LIMIT ${MAX_ROWS}))
  RETURNING *
),
${DELTAS.map(deltaSums).join(',\n')},
${DELTAS.map(deltaUpsert).join(',\n')}
SELECT count(*)::int AS rows FROM moved`;

/**
 * Folds pending rows until none is left, another process is folding, or `maxRounds`
 * transactions ran; returns the number of pending rows folded.
 */
export async function foldPending(db: DataSource, maxRounds = Number.POSITIVE_INFINITY): Promise<number> {
  let folded = 0;
  for (let round = 0; round < maxRounds; round += 1) {
    // an idle service checks four times a second: a look at the table, not a fold statement
    const [queued] = (await db.query('SELECT EXISTS (SELECT 1 FROM usage_pending) AS any')) as Array<{ any: boolean }>;
    if (!queued?.any) return folded;
    const moved = await db.transaction(async (tx) => {
      const [lock] = (await tx.query('SELECT pg_try_advisory_xact_lock($1) AS ok', [ROLLUP_LOCK_KEY])) as Array<{
        ok: boolean;
      }>;
      if (!lock?.ok) return 0;
      // the sums and sorts of a large round stay in memory
      await tx.query(`SET LOCAL work_mem = '64MB'`);
      const [row] = (await tx.query(FOLD)) as Array<{ rows: number }>;
      return row?.rows ?? 0;
    });
    if (moved === 0) return folded;
    folded += moved;
  }
  return folded;
}

/**
 * Deletes the 15-minute provider slots before `end` (the start of the oldest raw month
 * kept), after folding what is pending, under the fold lock: no fold brings slots of those
 * months back, as ingest accepts nothing that old.
 */
export async function forgetSlotsBefore(db: DataSource, end: Date): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [ROLLUP_LOCK_KEY]);
    await tx.query(`SET LOCAL work_mem = '64MB'`);
    for (;;) {
      const [row] = (await tx.query(FOLD)) as Array<{ rows: number }>;
      if ((row?.rows ?? 0) === 0) break;
    }
    await tx.query('DELETE FROM usage_slot_providers WHERE slot_start < $1', [end.toISOString()]);
  });
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
