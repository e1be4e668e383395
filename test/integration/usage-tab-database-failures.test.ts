import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningService } from '../../src/composition-root';
import { waitUntil } from '../support/outage-checks';
import { createTestDatabase, signTestToken, startTestService } from '../support/test-app';

/**
 * A Usage tab statement that reads only rollups runs by name in a read-only transaction of its
 * own (usage-statements.ts). When it fails there — its statement timeout, or its connection
 * killed — the client gets a 503 to retry, and the next call is answered: the connection went
 * back to the pool outside any transaction, or was replaced.
 */
let database: { url: string; drop: () => Promise<void> };
let service: RunningService;
let locker: pg.Client;
let token: string;

// whole UTC hours: every piece from the rollups, no raw records
const USERS_PAGE = '/v1/admin/usage/users?from=2026-11-01T00:00:00.000Z&to=2026-12-01T00:00:00.000Z&tz=UTC';
const STATEMENT_TIMEOUT_MS = 5_000;
const PER_USER_ROLLUPS = 'usage_hourly_users, usage_daily_users, usage_dekad_users, usage_monthly_users';

beforeAll(async () => {
  database = await createTestDatabase();
  service = await startTestService(database.url, {
    // long enough that a loaded machine's call reaches its lock wait well within it
    timeouts: { connectMs: 5_000, statementMs: STATEMENT_TIMEOUT_MS },
    poolSize: 1,
  });
  token = signTestToken({ sub: 'ops', role: 'admin', workspaceId: 'default' });
  locker = new pg.Client({ connectionString: database.url });
  await locker.connect();
});
afterAll(async () => {
  await locker.end();
  await service.stop();
  await database.drop();
});

const usersPage = () =>
  service.app.inject({ method: 'GET', url: USERS_PAGE, headers: { authorization: `Bearer ${token}` } });

/** Holds every per-user rollup locked while `during` runs. */
async function withRollupsLocked<T>(during: () => Promise<T>): Promise<T> {
  await locker.query(`BEGIN; LOCK TABLE ${PER_USER_ROLLUPS} IN ACCESS EXCLUSIVE MODE`);
  try {
    return await during();
  } finally {
    await locker.query('ROLLBACK');
  }
}

describe('a Usage tab statement that fails', () => {
  it('past its statement timeout: 503 with Retry-After, and the next call is answered', async () => {
    expect((await usersPage()).statusCode).toBe(200);
    const refused = await withRollupsLocked(usersPage);
    expect(refused.statusCode).toBe(503);
    expect(refused.headers['retry-after']).toBeDefined();
    expect(refused.json().message).toMatch(/did not answer in time/);
    const answered = await usersPage();
    expect(answered.statusCode, answered.body).toBe(200);
  });

  it('whose connection is killed: 503, and the next call is answered on a new connection', async () => {
    const refused = await withRollupsLocked(async () => {
      const pending = usersPage();
      // the users page's statement, waiting for the lock inside its own transaction: on a
      // connection that has it prepared already, it waits while binding its kept plan, before
      // PostgreSQL reports its text, and the text shown is still its transaction's BEGIN
      let waiting: { pid: number; query: string } | undefined;
      await waitUntil(
        STATEMENT_TIMEOUT_MS - 500,
        async () => {
          // the locker's own transaction would see pg_stat_activity as at its first look
          await locker.query('SELECT pg_stat_clear_snapshot()');
          const { rows } = await locker.query<{ pid: number; query: string }>(
            `SELECT pid, query FROM pg_stat_activity
             WHERE wait_event_type = 'Lock' AND datname = current_database()
               AND (query LIKE '%per_user AS%' OR query LIKE 'BEGIN READ ONLY;%')`,
          );
          waiting = rows[0];
          return waiting !== undefined;
        },
        20,
      );
      expect(waiting!.query).not.toMatch(/\busage_records\b/);
      const pid = waiting!.pid;
      await locker.query('SELECT pg_terminate_backend($1)', [pid]);
      return pending;
    });
    expect(refused.statusCode).toBe(503);
    // killed, not timed out
    expect(refused.json().message).not.toMatch(/in time/);
    const answered = await usersPage();
    expect(answered.statusCode, answered.body).toBe(200);
  });
});
