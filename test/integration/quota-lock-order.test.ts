import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingest, usageRecords } from '../support/records';
import { planFor, quotaOf, reserve } from '../support/quotas';
import { locksTakenBeforeHeldRow } from '../support/row-locks';
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

    // the records in an order of their own: the reverse of the ids' order
    const inOrder = [...records].sort(
      (a, b) => byId.indexOf(ids[records.indexOf(b)]!) - byId.indexOf(ids[records.indexOf(a)]!),
    );
    const locked = await locksTakenBeforeHeldRow({
      databaseUrl: t.databaseUrl,
      lockRow: `SELECT 1 FROM quota_reservations WHERE workspace_id = '${WORKSPACE}' AND id = $1 FOR UPDATE`,
      keys: byId,
      held: byId[6]!,
      run: () => ingest(t, admin, inOrder, { expectAccepted: true }),
    });
    expect(locked).toEqual([...Array(6).fill(true), ...Array(5).fill(false)]);
    for (const user of users) {
      expect((await quotaOf(t, admin, user)).tokens).toMatchObject({ used: 28, reserved: 0 });
    }
  });
});
