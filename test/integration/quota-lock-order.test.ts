import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingest, usageRecords } from '../support/records';
import { planFor, quotaOf, reserve } from '../support/quotas';
import { bearer, createTestApp, type TestApp } from '../support/test-app';

/**
 * Ingest settles a batch's reservations locking them in id order, as a release of several does:
 * two statements that settle and release overlapping reservations then never wait on each other
 * in a cycle (a deadlock, which PostgreSQL ends by failing one of them). Shown by holding one
 * reservation's row while a batch settles them all: every reservation with a smaller id is
 * already locked by the waiting batch, none with a larger one.
 */
let t: TestApp;
let admin: Record<string, string>;
const WORKSPACE = 'default';

beforeAll(async () => {
  t = await createTestApp();
  admin = bearer(t.token('root', { role: 'admin' }));
});
afterAll(async () => t.close());

async function connect(): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: t.databaseUrl });
  await client.connect();
  return client;
}

/** Whether another transaction holds the reservation's row lock (tried without waiting). */
async function isLocked(client: pg.Client, id: string): Promise<boolean> {
  await client.query('BEGIN');
  try {
    await client.query(`SELECT 1 FROM quota_reservations WHERE workspace_id = $1 AND id = $2 FOR UPDATE NOWAIT`, [
      WORKSPACE,
      id,
    ]);
    return false;
  } catch (error) {
    if ((error as { code?: string }).code === '55P03') return true;
    throw error;
  } finally {
    await client.query('ROLLBACK');
  }
}

/** Until some backend waits for a row lock (the batch, blocked on the held row). */
async function untilSomeoneWaits(client: pg.Client): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const { rows } = await client.query(
      `SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`,
    );
    if (rows.length > 0) return;
    if (Date.now() > deadline) throw new Error('no statement came to wait for the held reservation');
    await new Promise((done) => setTimeout(done, 20));
  }
}

describe('settling reservations', () => {
  it('locks a batch’s reservations in id order, whatever order the records come in', async () => {
    const users = ['lock-a', 'lock-b', 'lock-c'];
    await planFor(t, admin, users, { monthlyTokenLimit: 1_000_000 });
    const records = usageRecords(12, (i) => ({
      requestId: `lock-order-${i}`,
      userId: users[i % 3]!,
      inputTokens: 7,
      outputTokens: 0,
    }));
    const ids: string[] = [];
    for (const record of records) {
      const res = await reserve(t, admin, {
        userId: record.userId,
        requestId: record.requestId,
        estimatedTokens: 50,
      });
      expect(res.statusCode, res.body).toBe(201);
      ids.push(res.json().reservationId as string);
    }
    const byId = [...ids].sort();
    const held = byId[6]!;

    const holder = await connect();
    const prober = await connect();
    try {
      await holder.query('BEGIN');
      await holder.query(`SELECT 1 FROM quota_reservations WHERE workspace_id = $1 AND id = $2 FOR UPDATE`, [
        WORKSPACE,
        held,
      ]);
      // the records in an order of their own: the reverse of the ids' order
      const inOrder = [...records].sort(
        (a, b) => byId.indexOf(ids[records.indexOf(b)]!) - byId.indexOf(ids[records.indexOf(a)]!),
      );
      const settling = ingest(t, admin, inOrder, { expectAccepted: true });
      await untilSomeoneWaits(prober);

      const locked: boolean[] = [];
      for (const id of byId) if (id !== held) locked.push(await isLocked(prober, id));
      expect(locked).toEqual([...Array(6).fill(true), ...Array(5).fill(false)]);

      await holder.query('COMMIT');
      await settling;
    } finally {
      await holder.end();
      await prober.end();
    }
    for (const user of users) {
      expect((await quotaOf(t, admin, user)).tokens).toMatchObject({ used: 28, reserved: 0 });
    }
  });
});
