import { AsyncLocalStorage } from 'node:async_hooks';
import { createHash } from 'node:crypto';
import type pg from 'pg';
import { inject, injectable } from 'tsyringe';
import { DataSource } from 'typeorm';
import { inOwnTransaction, poolOf } from './prepared-statements';
import { SnapshotGroup } from './snapshot-group';

/**
 * Usage tab statements a connection keeps planned, at most. A kept plan holds PostgreSQL memory
 * for as long as its connection lives: ~0.8 MB for the users page's (plan, query tree and
 * source), ~0.5 MB on average (7.5 MB for the 14 statements of the Usage tab's endpoints over
 * three ranges, measured), so the pool's ten connections hold at most ~80 MB however many
 * shapes of statement the Usage tab sends. The least recently used one goes first.
 */
export const KEPT_PLANS_PER_CONNECTION = 16;

/** A statement that reads raw records: planned for its values (see UsageStatements). */
const READS_RAW_RECORDS = /\busage_records\b/;

const GENERIC_PLANS = 'SET LOCAL plan_cache_mode = force_generic_plan';
const BEGIN_WITH_GENERIC_PLAN = `BEGIN READ ONLY; ${GENERIC_PLANS}`;

/** The statement names each connection keeps, least recently used first: a connection's, whoever sends. */
const keptOn = new WeakMap<pg.PoolClient, Set<string>>();

/** What node-postgres remembers of the statements a connection has prepared. */
interface PreparedOnConnection {
  connection: { parsedStatements: Record<string, string> };
}

/**
 * How the usage queries reach PostgreSQL. A statement that reads only rollups is sent by name
 * and run with a generic plan: each connection parses and plans it once and keeps the plan,
 * where parsing and planning the users page's statement took ~4 ms of its ~21 on every call.
 * Such a plan does not depend on the values: the pieces of a range are read through an
 * `unnest` of arrays, which the planner sizes by default either way, and the workspace, user
 * and time bounds are index conditions in every plan.
 *
 * A statement that reads raw records goes unnamed and is planned for its values: a generic plan
 * would hold every partition of usage_records (4.2 MB with six partitions) and prune them only
 * when it runs.
 *
 * `plan_cache_mode` is set for the statement's own read-only transaction, never for the
 * connection: statements that read raw records share the pool and need plans made for their
 * values.
 */
@injectable()
export class UsageStatements {
  /** the group of the answer being read, where its statements share one snapshot */
  private readonly groups = new AsyncLocalStorage<SnapshotGroup>();

  constructor(@inject(DataSource) private readonly db: DataSource) {}

  async query<Row>(text: string, values: unknown[] = []): Promise<Row[]> {
    const group = this.groups.getStore();
    if (group) return (await group.run(text, values)) as Row[];
    if (READS_RAW_RECORDS.test(text)) return (await this.db.query(text, values)) as Row[];
    return inOwnTransaction(poolOf(this.db), BEGIN_WITH_GENERIC_PLAN, (client) => runKept<Row>(client, text, values));
  }

  /**
   * Runs `work` with every statement it sends through `query` reading the database as of one
   * moment (snapshot-group.ts), still in parallel: the parts of one answer (a total and its
   * chart, a user's models and days) agree with each other while records arrive.
   */
  inOneSnapshot<T>(work: () => Promise<T>): Promise<T> {
    if (this.groups.getStore()) return work();
    const group = new SnapshotGroup(poolOf(this.db), GENERIC_PLANS, runInGroup);
    group.open();
    return this.groups.run(group, async () => {
      let result: T;
      try {
        result = await work();
      } catch (error) {
        await group.close();
        throw error;
      }
      // every statement has ended: the read-only transactions may end beside the answer
      void group.close();
      return result;
    });
  }
}

/** A statement that reads only rollups, sent by name: the connection keeps its plan. */
async function runKept<Row>(client: pg.PoolClient, text: string, values: unknown[]): Promise<Row[]> {
  const name = `tokentally_usage_${createHash('sha1').update(text).digest('hex').slice(0, 24)}`;
  await makeRoom(client, name);
  try {
    return (await client.query({ name, text, values })).rows as Row[];
  } finally {
    remember(client, name);
  }
}

/**
 * A statement of a group, whose transaction keeps generic plans: one that reads raw records is
 * planned for its values all the same (an unnamed statement follows `plan_cache_mode` too).
 */
async function runInGroup(client: pg.PoolClient, text: string, values: unknown[]): Promise<unknown[]> {
  if (!READS_RAW_RECORDS.test(text)) return runKept(client, text, values);
  await client.query('SET LOCAL plan_cache_mode = auto');
  try {
    return (await client.query(text, values)).rows as unknown[];
  } finally {
    await client.query(GENERIC_PLANS);
  }
}

/** What node-postgres knows the connection has prepared: a statement whose parse failed is not. */
function preparedOn(client: pg.PoolClient): Record<string, string> {
  return (client as unknown as PreparedOnConnection).connection.parsedStatements;
}

/** Lets go of the least recently used statement when `name` would be one too many. */
async function makeRoom(client: pg.PoolClient, name: string): Promise<void> {
  const names = keptOn.get(client);
  if (!names || names.has(name) || names.size < KEPT_PLANS_PER_CONNECTION) return;
  const oldest = names.values().next().value!;
  names.delete(oldest);
  // node-postgres would otherwise send it by name alone, to a server that no longer has it
  delete preparedOn(client)[oldest];
  await client.query(`DEALLOCATE ${oldest}`);
}

/** Makes `name` the connection's most recently used statement, if it is prepared there. */
function remember(client: pg.PoolClient, name: string): void {
  let names = keptOn.get(client);
  if (!names) keptOn.set(client, (names = new Set()));
  names.delete(name);
  if (preparedOn(client)[name] !== undefined) names.add(name);
}
