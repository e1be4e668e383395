import type pg from 'pg';
import type { DataSource, EntityManager, QueryRunner } from 'typeorm';

/** The pool the DataSource keeps. */
export function poolOf(db: DataSource): pg.Pool {
  return (db.driver as unknown as { master: pg.Pool }).master;
}

/**
 * A statement sent by name: PostgreSQL parses and plans it once per connection and keeps the
 * plan until a change to a table it reads (an ANALYZE too) makes it plan again. For the fold,
 * which spent 3-15 ms planning each round (as long as a small round takes to run) and whose
 * plan cannot go wrong as its tables grow.
 *
 * Not for a statement whose best plan depends on its values (every Usage tab query prunes
 * partitions by its range) or on how full a table is now: a kept plan stays as it was made.
 * The ingest statement, kept with a plan made while quota_reservations was empty, scanned
 * that whole table for every settled record and walked all active reservations for every
 * batch until the next ANALYZE (with 20,000 active: 16.6 ms for a batch settling nothing,
 * 3.1 ms once analyzed), so it is planned for every batch.
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
