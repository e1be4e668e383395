import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SnapshotGroup } from '../../src/infrastructure/persistence/snapshot-group';
import { createTestDatabase } from '../support/test-app';

/**
 * The statements of one answer read one snapshot, in parallel where connections are free, and
 * a group never holds connections it waits for: the pool comes back whole, also after a failure.
 */

let database: { url: string; drop: () => Promise<void> };
let writer: pg.Client;

beforeAll(async () => {
  database = await createTestDatabase();
  writer = new pg.Client({ connectionString: database.url });
  await writer.connect();
  await writer.query('CREATE TABLE snapshot_probe (n integer)');
});

afterAll(async () => {
  await writer?.end();
  await database?.drop();
});

const plain = async (client: pg.PoolClient, text: string, values: unknown[]): Promise<unknown[]> =>
  (await client.query(text, values)).rows as unknown[];

/** Each statement: how many rows it sees and which backend ran it, after a pause to make them overlap. */
const PROBE = 'SELECT count(*)::int AS n, pg_backend_pid() AS pid FROM snapshot_probe, pg_sleep($1::float8)';

async function inGroup<T>(pool: pg.Pool, work: (group: SnapshotGroup) => Promise<T>): Promise<T> {
  const group = new SnapshotGroup(pool, 'SET LOCAL statement_timeout = 10000', plain);
  try {
    return await work(group);
  } finally {
    await group.close();
  }
}

const probe = async (group: SnapshotGroup, pause = 0.05): Promise<{ n: number; pid: number }> =>
  (await group.run(PROBE, [pause]))[0] as { n: number; pid: number };

describe('a snapshot group', () => {
  it('runs parallel statements on several connections, all seeing the rows of one moment', async () => {
    await writer.query('INSERT INTO snapshot_probe SELECT generate_series(1, 3)');
    const pool = new pg.Pool({ connectionString: database.url, max: 4 });
    try {
      const seen = await inGroup(pool, async (group) => {
        const first = await probe(group, 0);
        // committed after the group's moment: no statement of the group sees it
        await writer.query('INSERT INTO snapshot_probe VALUES (4)');
        return [first, ...(await Promise.all([probe(group), probe(group), probe(group), probe(group)]))];
      });
      expect(seen.map((s) => s.n)).toEqual([3, 3, 3, 3, 3]);
      expect(new Set(seen.map((s) => s.pid)).size).toBeGreaterThan(1);
      // a new group sees it
      expect((await inGroup(pool, (group) => probe(group, 0))).n).toBe(4);
      expect(pool.totalCount).toBe(pool.idleCount);
    } finally {
      await pool.end();
    }
  });

  it('answers every statement on one connection when the pool has no other', async () => {
    const pool = new pg.Pool({ connectionString: database.url, max: 1 });
    try {
      const seen = await inGroup(pool, (group) => Promise.all([probe(group), probe(group), probe(group)]));
      expect(new Set(seen.map((s) => s.pid)).size).toBe(1);
      // answers in flight do not wait for each other's connections
      const many = await Promise.all(
        Array.from({ length: 5 }, () => inGroup(pool, (group) => Promise.all([probe(group, 0), probe(group, 0)]))),
      );
      expect(many.flat()).toHaveLength(10);
    } finally {
      await pool.end();
    }
  });

  it('rejects a failing statement, answers the others and gives every connection back usable', async () => {
    const pool = new pg.Pool({ connectionString: database.url, max: 3 });
    try {
      const outcomes = await inGroup(pool, (group) =>
        Promise.allSettled([probe(group), group.run('SELECT 1/0', []), probe(group)]),
      );
      expect(outcomes[1]).toMatchObject({ status: 'rejected', reason: { code: '22012' } });
      await new Promise((done) => setTimeout(done, 50)); // helpers still connecting let go of theirs
      expect(pool.totalCount).toBe(pool.idleCount);
      // nothing left in a transaction on the pool's connections
      const states = await Promise.all(
        Array.from({ length: 3 }, async () => {
          const client = await pool.connect();
          try {
            return (await client.query('SELECT now() = statement_timestamp() AS fresh')).rows[0] as { fresh: boolean };
          } finally {
            client.release();
          }
        }),
      );
      expect(states.every((s) => s.fresh)).toBe(true);
      expect((await inGroup(pool, (group) => probe(group, 0))).n).toBeGreaterThan(0);
    } finally {
      await pool.end();
    }
  });
  it('survives a connection killed in the middle: its statements fail, the others end, the pool goes on', async () => {
    const pool = new pg.Pool({ connectionString: database.url, max: 3 });
    pool.on('error', () => undefined); // an idle connection's failure is the pool's to report
    try {
      const outcomes = await inGroup(pool, async (group) => {
        const doomed = group.run("SELECT pg_sleep(0.4), 'doomed' AS mark", []);
        const other = probe(group, 0.4);
        // settled as they end: the first fails while the backend is being killed below
        const outcomes = Promise.allSettled([doomed, other]);
        await new Promise((done) => setTimeout(done, 150));
        await writer.query(
          `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
           WHERE query LIKE '%''doomed'' AS mark%' AND pid <> pg_backend_pid()`,
        );
        return outcomes;
      });
      expect(outcomes[0]).toMatchObject({ status: 'rejected' });
      expect((await inGroup(pool, (group) => probe(group, 0))).n).toBeGreaterThan(0);
    } finally {
      await pool.end();
    }
  });
});
