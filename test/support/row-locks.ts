import 'reflect-metadata';
import pg from 'pg';
import { INGEST_STATEMENT_MARK } from '../../src/infrastructure/persistence/pg-usage-repository';
import { waitUntil } from './outage-checks';

export interface LockOrderProbe {
  databaseUrl: string;
  /** `SELECT … FOR UPDATE` of one row, its key as $1 (NOWAIT is appended to try one) */
  lockRow: string;
  /** the rows' keys, in the order the answer lists them */
  keys: readonly string[];
  /** the key of the row held while `run` goes */
  held: string;
  /** the statement under test, which must come to wait for the held row */
  run: () => Promise<unknown>;
}

/**
 * Which rows a statement had locked when it came to wait for one held by another transaction:
 * the held row is locked first, `run` started, and once it waits, every other row is tried
 * without waiting. For each key but the held one, in `keys` order: locked or not. A statement
 * that locks in key order has locked exactly the keys before the held one.
 */
export async function locksTakenBeforeHeldRow(probe: LockOrderProbe): Promise<boolean[]> {
  const connect = async () => {
    const client = new pg.Client({ connectionString: probe.databaseUrl });
    await client.connect();
    return client;
  };
  const holder = await connect();
  const prober = await connect();
  try {
    await holder.query('BEGIN');
    await holder.query(probe.lockRow, [probe.held]);
    const running = probe.run();
    running.catch(() => undefined); // awaited below; a failure must not go unhandled meanwhile
    await waitUntil(
      10_000,
      async () =>
        (
          await prober.query(
            `SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`,
          )
        ).rows.length > 0,
      20,
    );
    const locked: boolean[] = [];
    for (const key of probe.keys.filter((k) => k !== probe.held)) {
      await prober.query('BEGIN');
      try {
        await prober.query(`${probe.lockRow} NOWAIT`, [key]);
        locked.push(false);
      } catch (error) {
        if ((error as { code?: string }).code !== '55P03') throw error;
        locked.push(true);
      } finally {
        await prober.query('ROLLBACK');
      }
    }
    await holder.query('COMMIT');
    await running;
    return locked;
  } finally {
    await holder.end();
    await prober.end();
  }
}

/** Ingest statements kept waiting inside PostgreSQL, and a connection to watch them from. */
export interface IngestHold {
  /** outside the lock and outside any transaction (inside one, pg_stat_activity is a snapshot) */
  observer: pg.Client;
  /** the ingest statements PostgreSQL is running now (the service's, found by their first line) */
  statements(): Promise<number>;
  /** waits until PostgreSQL runs exactly `n` of them */
  untilStatements(n: number): Promise<void>;
  /** ends the lock: the waiting statements go on */
  release(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Holds `usage_request_ids` in SHARE mode, which every ingest statement's claim of its request
 * ids waits for: they stay in PostgreSQL, where pg_stat_activity shows how many were sent.
 */
export async function holdIngest(databaseUrl: string): Promise<IngestHold> {
  const connect = async () => {
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    return client;
  };
  const holder = await connect();
  const observer = await connect();
  await holder.query('BEGIN');
  await holder.query('LOCK TABLE usage_request_ids IN SHARE MODE');
  const statements = async (): Promise<number> => {
    const { rows } = await observer.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND starts_with(query, $1)`,
      [INGEST_STATEMENT_MARK],
    );
    return rows[0]!.n;
  };
  let released = false;
  return {
    observer,
    statements,
    untilStatements: (n) => waitUntil(10_000, async () => (await statements()) === n, 20),
    async release() {
      if (released) return;
      released = true;
      await holder.query('COMMIT');
    },
    async close() {
      await holder.end().catch(() => undefined);
      await observer.end().catch(() => undefined);
    },
  };
}
