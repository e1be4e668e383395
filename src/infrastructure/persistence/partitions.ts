import type { DataSource, QueryRunner } from 'typeorm';
import { ADVISORY_LOCKS } from './advisory-locks';
import { LOCK_NOT_AVAILABLE } from './pending-index';

function monthStart(date: Date): Date {
  return new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), 1));
}

function nextMonth(date: Date): Date {
  return new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 1));
}

export function partitionName(month: Date): string {
  return `usage_records_p${month.getUTCFullYear()}${String(month.getUTCMonth() + 1).padStart(2, '0')}`;
}

/** Creates the monthly partitions of usage_records that cover [from, to). */
export async function ensurePartitions(db: DataSource, from: Date, to: Date): Promise<string[]> {
  const created: string[] = [];
  await db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [ADVISORY_LOCKS.partitions]);
    const existing = new Set<string>(
      (
        (await tx.query(
          `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
           WHERE i.inhparent = 'usage_records'::regclass`,
        )) as Array<{ relname: string }>
      ).map((row) => row.relname),
    );
    for (let month = monthStart(from); month < to; month = nextMonth(month)) {
      const name = partitionName(month);
      if (existing.has(name)) continue;
      // created apart and then attached: CREATE TABLE … PARTITION OF locks usage_records
      // exclusively (waiting for every running query on it, with ingest and every new read
      // queued behind), ATTACH takes a lock reads and writes pass (SHARE UPDATE EXCLUSIVE);
      // the indexes are made as it attaches, on a table still empty
      await tx.query(`CREATE TABLE ${name} (LIKE usage_records INCLUDING ALL EXCLUDING INDEXES)`);
      await tx.query(
        `ALTER TABLE usage_records ATTACH PARTITION ${name}
         FOR VALUES FROM ('${month.toISOString()}') TO ('${nextMonth(month).toISOString()}')`,
      );
      created.push(name);
    }
  });
  return created;
}

/**
 * Every partition of usage_records with the upper bound of its range, read from the catalog
 * (the bound as PostgreSQL prints it, cast back to timestamptz; null for a DEFAULT or
 * MAXVALUE bound, which is never dropped).
 */
const PARTITIONS_ENDING_BY = `
SELECT name, detach_pending FROM (
  SELECT c.relname AS name, i.inhdetachpending AS detach_pending,
         (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'TO \\(''([^'']+)''\\)'))[1]::timestamptz AS upper_bound
  FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
  WHERE i.inhparent = 'usage_records'::regclass
) p
WHERE upper_bound <= $1
ORDER BY upper_bound`;

const quoteIdent = (name: string): string => `"${name.replace(/"/g, '""')}"`;

/**
 * DETACH … CONCURRENTLY is refused when usage_records has a DEFAULT partition (55000), and by
 * Citus on a distributed partitioned table (0A000, at the time of writing): then the plain way.
 */
const CONCURRENT_DETACH_REFUSED = new Set(['0A000', '55000']);
/** The plain way briefly locks all of usage_records: rather skip a round than queue behind a long query. */
const PLAIN_DROP_LOCK_TIMEOUT = '5s';
/** How long one try of a detach waits for the queries that may still read the month (see detachAndDrop). */
const DETACH_WAIT_MS = 1_000;

function sqlState(error: unknown): unknown {
  const failure = error as { code?: unknown; driverError?: { code?: unknown } };
  return failure.code ?? failure.driverError?.code;
}

/**
 * Detaches and drops one month; false when `signal` ended it first. Each try of the detach
 * waits at most DETACH_WAIT_MS for the queries that may still read the month, then tries again:
 * a stop never waits for a long report. A try cut short may leave the month "detach pending",
 * which the next one finalizes.
 */
async function detachAndDrop(
  session: QueryRunner,
  name: string,
  detachPending: boolean,
  signal: AbortSignal | undefined,
): Promise<boolean> {
  const table = quoteIdent(name);
  let state: AttachState = detachPending ? 'pending' : 'attached';
  while (state !== 'detached') {
    if (signal?.aborted) return false;
    try {
      await session.query(`SET lock_timeout = ${DETACH_WAIT_MS}`);
      try {
        await session.query(
          `ALTER TABLE usage_records DETACH PARTITION ${table} ${state === 'pending' ? 'FINALIZE' : 'CONCURRENTLY'}`,
        );
      } finally {
        await session.query('RESET lock_timeout');
      }
      state = 'detached';
    } catch (error) {
      if (sqlState(error) === LOCK_NOT_AVAILABLE) {
        state = await attachState(session, name);
        continue;
      }
      if (state === 'pending' || !CONCURRENT_DETACH_REFUSED.has(sqlState(error) as string)) throw error;
      await dropAttached(session, table);
      return true;
    }
  }
  await session.query(`DROP TABLE ${table}`);
  return true;
}

type AttachState = 'attached' | 'pending' | 'detached';

/** Where a month stands after a detach cut short: either part may have been done. */
async function attachState(session: QueryRunner, name: string): Promise<AttachState> {
  const [row] = (await session.query(
    `SELECT i.inhdetachpending AS pending FROM pg_inherits i
     WHERE i.inhrelid = to_regclass($1) AND i.inhparent = 'usage_records'::regclass`,
    [quoteIdent(name)],
  )) as Array<{ pending: boolean }>;
  return row === undefined ? 'detached' : row.pending ? 'pending' : 'attached';
}

/** DROP TABLE of a partition detaches it under an ACCESS EXCLUSIVE lock on usage_records. */
async function dropAttached(session: QueryRunner, table: string): Promise<void> {
  await session.startTransaction();
  try {
    await session.query(`SET LOCAL lock_timeout = '${PLAIN_DROP_LOCK_TIMEOUT}'`);
    await session.query(`DROP TABLE ${table}`);
    await session.commitTransaction();
  } catch (dropError) {
    await session.rollbackTransaction();
    throw dropError;
  }
}

/**
 * Drops the partitions of usage_records that lie wholly before `cutoff` (upper bound ≤
 * cutoff): DETACH … CONCURRENTLY, so ingest and queries on the other partitions never wait,
 * then DROP TABLE. Never a row-by-row DELETE: no dead tuples, no VACUUM debt. The rollups
 * and the dedup ledger are separate tables and stay. A detach interrupted half-way (a
 * crash, a cancelled statement) leaves the partition "detach pending"; the next run
 * finalizes it. One instance at a time; another one finding the lock taken skips the round.
 * `signal` ends it between two tries of a detach; the next run does the rest.
 */
export async function dropPartitionsBefore(db: DataSource, cutoff: Date, signal?: AbortSignal): Promise<string[]> {
  const dropped: string[] = [];
  // CONCURRENTLY cannot run inside a transaction block: one session, autocommit statements.
  const session = db.createQueryRunner();
  await session.connect();
  try {
    const [lock] = (await session.query('SELECT pg_try_advisory_lock($1) AS ok', [ADVISORY_LOCKS.retention])) as Array<{
      ok: boolean;
    }>;
    if (!lock?.ok) return dropped;
    try {
      const expired = (await session.query(PARTITIONS_ENDING_BY, [cutoff.toISOString()])) as Array<{
        name: string;
        detach_pending: boolean;
      }>;
      for (const { name, detach_pending } of expired) {
        if (!(await detachAndDrop(session, name, detach_pending, signal))) break;
        dropped.push(name);
      }
    } finally {
      await session.query('SELECT pg_advisory_unlock($1)', [ADVISORY_LOCKS.retention]);
    }
  } finally {
    await session.release();
  }
  return dropped;
}
