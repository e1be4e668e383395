import pg from 'pg';
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
