import type { DataSource, EntityManager, QueryRunner } from 'typeorm';
import { ADVISORY_LOCKS } from './advisory-locks';
import { prepared, runPreparedIn } from './prepared-statements';
import {
  FOLD_ORDER,
  foldSourceOf,
  GRAINS,
  LAST_OCCURRENCE,
  METRICS,
  metricsOf,
  PENDING,
  ROLLUPS,
  type RollupDefinition,
} from './rollup-registry';

/** Each key column of a rollup with its expression over the rows of its fold source. */
function keysOver(rollup: RollupDefinition, source: RollupDefinition | null): Array<[string, string]> {
  return rollup.key.map((column) => {
    const grain = GRAINS[rollup.grain];
    if (column !== grain.column) return [column, column];
    // the moved pending rows carry the hour and the slot; a rollup carries its own grain
    const from =
      source === null ? (rollup.grain === 'slot' ? 'slot_start' : 'bucket_start') : GRAINS[source.grain].column;
    return [column, from === column ? column : grain.ofStart!(from)];
  });
}

/**
 * What the moved rows add to one rollup, summed from the delta of its fold source (a day
 * from its hours, users from their user × model rows …), so that most sums run over a few
 * rows rather than over every moved row. Every delta carries the latest occurrence.
 */
function deltaSums(rollup: RollupDefinition): string {
  const source = foldSourceOf(rollup);
  const keys = keysOver(rollup, source);
  const positions = ['workspace_id', ...keys].map((_, i) => String(i + 1)).join(', ');
  return `delta_${rollup.table} AS (
  SELECT workspace_id, ${keys.map(([column, expression]) => `${expression} AS ${column}`).join(', ')},
    ${METRICS.map((m) => `sum(${m.name})${m.type === 'bigint' ? '::bigint' : ''} AS ${m.name}`).join(', ')},
    max(${LAST_OCCURRENCE.name}) AS ${LAST_OCCURRENCE.name}
  FROM ${source === null ? 'moved' : `delta_${source.table}`}
  GROUP BY ${positions}
)`;
}

/**
 * Adds a delta to its rollup. Rows are upserted in key order, and only one fold runs at a
 * time, so no two writers of a rollup ever wait on each other in a cycle.
 */
function deltaUpsert(rollup: RollupDefinition): string {
  const keyColumns = ['workspace_id', ...rollup.key];
  const metrics = metricsOf(rollup);
  const columns = [...keyColumns, ...metrics.map((m) => m.name)];
  const updates = metrics.map((m) =>
    m.combine === 'sum'
      ? `${m.name} = r.${m.name} + EXCLUDED.${m.name}`
      : `${m.name} = greatest(r.${m.name}, EXCLUDED.${m.name})`,
  );
  return `upsert_${rollup.table} AS (
  INSERT INTO ${rollup.table} AS r (${columns.join(', ')})
  SELECT ${columns.join(', ')} FROM delta_${rollup.table} ORDER BY ${keyColumns.join(', ')}
  ON CONFLICT (${keyColumns.join(', ')}) DO UPDATE SET
    ${updates.join(',\n    ')}
)`;
}

/** Pending rows folded per transaction at most: a backlog is worked off in bounded steps. */
const MAX_ROWS = 100_000;

/**
 * Moves pending rows into every rollup, in one statement: the pending rows disappear exactly
 * when their sums appear in the rollups, so a query (one snapshot) counts each of them once,
 * from one side or the other. Which rows go together does not matter; they are picked by
 * their place in the table, the cheapest way to find some.
 */
const FOLD = `
WITH moved AS (
  DELETE FROM usage_pending
  WHERE ctid = ANY (ARRAY(SELECT ctid FROM usage_pending LIMIT ${MAX_ROWS}))
  RETURNING *
),
${FOLD_ORDER.map(deltaSums).join(',\n')},
${FOLD_ORDER.map(deltaUpsert).join(',\n')}
SELECT count(*)::int AS rows FROM moved`;

export const FOLD_STATEMENT = prepared('fold', FOLD);

/**
 * One fold step inside the caller's transaction (which holds the rollup lock). The statement's
 * plan is made once per connection, and so possibly while usage_pending is empty: made then,
 * the delete would filter a sequential scan by the list of picked rows (a row against every
 * one of up to 100,000, for every row) instead of fetching them by ctid. Without sequential
 * scans to choose from, every plan of it — first or remade after ANALYZE — fetches by ctid.
 */
async function foldStep(session: EntityManager | QueryRunner): Promise<number> {
  // the sums and sorts of a large round stay in memory
  await session.query(`SET LOCAL work_mem = '64MB'; SET LOCAL enable_seqscan = off`);
  const [row] = await runPreparedIn<{ rows: number }>(session, FOLD_STATEMENT);
  return row?.rows ?? 0;
}

/**
 * Folds everything pending inside the caller's transaction, which holds the rollup lock: for
 * re-pricing and the retention of the raw window's rollups, which must find nothing pending.
 * The caller's own statements after it plan with sequential scans allowed again.
 */
export async function foldAllPendingIn(session: EntityManager | QueryRunner): Promise<void> {
  while ((await foldStep(session)) > 0);
  await session.query(`SET LOCAL enable_seqscan = on`);
}

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
      const [lock] = (await tx.query('SELECT pg_try_advisory_xact_lock($1) AS ok', [ADVISORY_LOCKS.rollups])) as Array<{
        ok: boolean;
      }>;
      if (!lock?.ok) return 0;
      // a fold lost in a crash before its commit reached the disk took its pending rows with
      // it, so it need not wait for the flush
      await tx.query(`SET LOCAL synchronous_commit = off`);
      return foldStep(tx);
    });
    if (moved === 0) return folded;
    folded += moved;
  }
  return folded;
}

/**
 * Deletes the rows before `end` (the start of the oldest raw month kept) of the rollups that
 * cover the raw months only, after folding what is pending, under the fold lock: no fold
 * brings rows of those months back, as ingest accepts nothing that old.
 *
 * Where neither such rows nor pending usage before `end` exist (every hour but the first after
 * a month left the window), nothing is done: no wait for the fold lock, and no fold of a whole
 * backlog in one transaction before the service starts.
 */
export async function forgetSlotsBefore(db: DataSource, end: Date): Promise<void> {
  const before = [
    ...ROLLUPS.filter((r) => r.rawWindowOnly).map(
      (r) => `SELECT 1 FROM ${r.table} WHERE ${GRAINS[r.grain].column} < $1`,
    ),
    // a pending hour starts at or before its slots: whatever is pending before the month is too
    `SELECT 1 FROM ${PENDING.table} WHERE ${GRAINS.hour.column} < $1`,
  ];
  const [work] = (await db.query(`SELECT ${before.map((q) => `EXISTS (${q})`).join(' OR ')} AS any`, [
    end.toISOString(),
  ])) as Array<{ any: boolean }>;
  if (!work?.any) return;
  await db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [ADVISORY_LOCKS.rollups]);
    await foldAllPendingIn(tx);
    for (const rollup of ROLLUPS.filter((r) => r.rawWindowOnly)) {
      await tx.query(`DELETE FROM ${rollup.table} WHERE ${GRAINS[rollup.grain].column} < $1`, [end.toISOString()]);
    }
  });
}

/**
 * Removes the rows the fold deleted from usage_pending and from its index. Until then every
 * read of pending usage walks them: a bitmap scan (what the per-user probes of the Usage tab
 * use) never marks an entry dead, and autovacuum comes only after 10,000 of them and at most
 * once a minute. With 100,000 deleted rows one probe read 2,551 pages (3.7 ms); after this,
 * one (0.05 ms); the vacuum took 35 ms. SKIP_LOCKED: a vacuum running already is enough.
 * Returns whether deleted rows are left: ones an older snapshot may still see, or deleted
 * meanwhile, or all of them when the vacuum was skipped.
 */
export async function vacuumPending(db: DataSource): Promise<boolean> {
  await db.query(`VACUUM (SKIP_LOCKED) ${PENDING.table}`);
  const [row] = (await db.query(
    `SELECT n_dead_tup > 0 AS left FROM pg_stat_user_tables WHERE relid = '${PENDING.table}'::regclass`,
  )) as Array<{ left: boolean }>;
  return row?.left ?? false;
}

export interface FolderEvents {
  /**
   * A round failed (the database is away, a statement failed): called for the first failure
   * of a run of them only, so an outage is reported once, not four times a second.
   */
  onError: (error: unknown) => void;
  /** The first round that succeeded after `failures` failed ones. */
  onRecovered?: (failures: number) => void;
}

/** When the folder vacuums usage_pending (see vacuumPending). */
export interface VacuumPolicy {
  /** rows folded since the last vacuum that make the next one due… */
  afterRows: number;
  /** …once this long has passed since it */
  gapMs: number;
  /** and fewer rows, or deleted rows an earlier vacuum had to leave, after this long */
  idleMs: number;
}

/**
 * Every vacuum of usage_pending makes PostgreSQL plan again each kept Usage tab statement (all
 * of them read it) on each connection at its next use: with one a second, 9–11 of 400 calls
 * of the users page took 3.5–8 ms to bind instead of 0.4. Deleted rows cost ~37 ns per probe
 * each, 40 probes a users page: 1,000 of them ~1.5 ms. So not after every fold: after 1,000
 * rows at most once a second (heavy ingest), and after fewer within a minute.
 */
const VACUUM_POLICY: VacuumPolicy = { afterRows: 1_000, gapMs: 1_000, idleMs: 60_000 };

/**
 * The service's background fold: every `intervalMs`, and at once again while there was
 * something to fold. A failed round is retried, after a pause that doubles with every failure
 * in a row up to `maxBackoffMs`; nothing it throws (nor anything the handlers throw) escapes
 * the loop, so a database that goes away cannot stop it, and it resumes by itself when the
 * database is back. A failed round committed nothing: its pending rows are folded later.
 * What it folded is vacuumed away by `vacuum`, and what a previous run left once at the start.
 */
export function startRollupFolder(
  db: DataSource,
  events: FolderEvents | ((error: unknown) => void),
  intervalMs = 250,
  maxBackoffMs = 2_000,
  vacuum: VacuumPolicy = VACUUM_POLICY,
): { stop(): Promise<void> } {
  const { onError, onRecovered } = typeof events === 'function' ? { onError: events, onRecovered: undefined } : events;
  const report = (call: () => void): void => {
    try {
      call();
    } catch {
      // a handler that throws must not end the loop
    }
  };
  let stopped = false;
  let failures = 0;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  let foldedSinceVacuum = 0;
  // at the start: what a previous run left
  let starting = true;
  let vacuumAgain = true;
  let lastVacuum = Number.NEGATIVE_INFINITY;
  const foldAndVacuum = async (): Promise<void> => {
    foldedSinceVacuum += await foldPending(db, 20);
    const since = Date.now() - lastVacuum;
    const due =
      (foldedSinceVacuum >= vacuum.afterRows && since >= vacuum.gapMs) ||
      ((foldedSinceVacuum > 0 || vacuumAgain) && since >= vacuum.idleMs);
    if (!due) return;
    // a vacuum that had rows to remove is followed by one more: a snapshot may have kept some,
    // and the statistics that tell (pg_stat_user_tables) can lag behind the fold by a second
    const hadWork = foldedSinceVacuum > 0 || starting;
    starting = false;
    lastVacuum = Date.now();
    foldedSinceVacuum = 0;
    vacuumAgain = (await vacuumPending(db)) || hadWork;
  };
  const round = (): void => {
    running = foldAndVacuum()
      .then(
        () => {
          if (failures > 0 && !stopped) report(() => onRecovered?.(failures));
          failures = 0;
        },
        (error: unknown) => {
          failures += 1;
          if (failures === 1 && !stopped) report(() => onError(error));
        },
      )
      .then(() => {
        if (stopped) return;
        const pause = failures === 0 ? intervalMs : Math.min(maxBackoffMs, intervalMs * 2 ** (failures - 1));
        timer = setTimeout(round, pause);
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
