import type pg from 'pg';
import { DatabaseUnavailableError } from '../../domain/errors';
import type { DataSource, EntityManager, QueryRunner } from 'typeorm';

/** The pool the DataSource keeps; a DataSource already closed has none, and says the database is away. */
export function poolOf(db: DataSource): pg.Pool {
  const pool = (db.driver as unknown as { master?: pg.Pool }).master;
  if (!pool) throw new DatabaseUnavailableError('the connection to the database is closed; retry later');
  return pool;
}

/**
 * A statement sent by name: PostgreSQL parses it once per connection. The fold also keeps its
 * plan (it spent 3-15 ms planning each round, as long as a small round takes to run, and its
 * plan cannot go wrong as its tables grow).
 *
 * A kept plan stays as it was made until an ANALYZE of a table it reads makes it plan again;
 * one made while a table was nearly empty stays so while the table fills. The ingest statement
 * is therefore parsed once but planned for every batch (`runPlannedEachTimeIn`): kept, with a
 * plan made while quota_reservations was empty, it reached the reservations a batch settled by
 * walking every reservation of the workspace (1.7M rows compared for 104 settled records at
 * 16,617 reservations, 0.4 s a batch, in the reservations bench), where a plan made for the
 * batch sees how large the table is now, analyzed or not.
 */
export interface PreparedStatement {
  readonly name: string;
  readonly text: string;
}

export function prepared(name: string, text: string): PreparedStatement {
  return { name: `tokentally_${name}`, text };
}

/** Runs a prepared statement on the connection of a query runner, or of a transaction's entity manager. */
export async function runPreparedIn<Row>(
  session: EntityManager | QueryRunner,
  statement: PreparedStatement,
  values: unknown[] = [],
): Promise<Row[]> {
  const runner = 'isTransactionActive' in session ? session : session.queryRunner;
  const client = (runner as { databaseConnection?: pg.PoolClient } | undefined)?.databaseConnection;
  if (!client) throw new Error('runPreparedIn needs a connected query runner');
  return (await client.query({ name: statement.name, text: statement.text, values })).rows as Row[];
}

/**
 * Runs a prepared statement on any connection of the pool, outside a transaction. Each
 * connection parses it once; PostgreSQL plans it for its values the first five times, then
 * keeps a generic plan if that costs no more. For small lookups whose parsing and planning
 * cost more than running them.
 */
export async function runPrepared<Row>(
  pool: pg.Pool,
  statement: PreparedStatement,
  values: unknown[] = [],
): Promise<Row[]> {
  return (await pool.query({ name: statement.name, text: statement.text, values })).rows as Row[];
}

/**
 * The start of a transaction whose named statements are planned for their values every time,
 * with sequential scans off: what they look up by key they reach through its index also while
 * the table is small. The ingest statement looks up each record's reservation by request id;
 * with a few pages of reservations (150 rows, ended ones included) the planner read the table
 * for every record instead, 1,000 times a batch (78 against 59 ms for 1,000 records, p50);
 * with none or many, both ways took the same time.
 */
export const BEGIN_PLANNED_EACH_TIME =
  'BEGIN; SET LOCAL plan_cache_mode = force_custom_plan; SET LOCAL enable_seqscan = off';

/**
 * `work` in a transaction of its own on one connection of the pool, begun with `begin` (which
 * may set what the transaction runs with) and committed after it. A failure rolls it back; a
 * connection that cannot even roll back is closed, never pooled. The settings end with the
 * transaction: the next user of the connection gets it as the pool gave it.
 */
export async function inOwnTransaction<T>(
  pool: pg.Pool,
  begin: string,
  work: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  // a failure of this connection reaches the statement it breaks; no uncaught 'error' event
  const ignore = (): void => undefined;
  client.on('error', ignore);
  let usable = true;
  try {
    await client.query(begin);
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => (usable = false));
    throw error;
  } finally {
    client.removeListener('error', ignore);
    client.release(usable ? undefined : new Error('the transaction left its connection unusable'));
  }
}

/** Runs a prepared statement in a transaction of its own: parsed once per connection, planned for every call. */
export function runPlannedEachTimeIn<Row>(
  pool: pg.Pool,
  statement: PreparedStatement,
  values: unknown[] = [],
): Promise<Row[]> {
  return inOwnTransaction(pool, BEGIN_PLANNED_EACH_TIME, async (client) => {
    return (await client.query({ name: statement.name, text: statement.text, values })).rows as Row[];
  });
}
