import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingest, usageRecord } from '../support/records';
import { planFor as planForUsers, quotaOf, reserve as reserveFor } from '../support/quotas';
import { bearer, createTestApp, type TestApp } from '../support/test-app';

/**
 * Reservations decided many at a time (`quota_reserve_batch`): each item as if they had come one
 * after the other, idempotent within a batch, exact across users and instances; reservations do
 * not wait for ingest; the API key and price caches never outlive a change made on the instance.
 */
let t: TestApp;
let admin: Record<string, string>;
const now = new Date('2026-11-20T12:00:00Z');
const clock = { now: () => new Date(now) };
const WORKSPACE = 'default';

const planFor = (users: string[], fields: object) => planForUsers(t, admin, users, fields);
const reserve = (app: TestApp, body: object, headers = admin) => reserveFor(app, headers, body);
const tokensOf = async (userId: string) => (await quotaOf(t, admin, userId)).tokens;

interface Item {
  user: string;
  request: string;
  tokens: number;
}

interface BatchRow {
  item: number;
  outcome: string;
  reservation_id: string | null;
  reserved_for: string;
  retry_after_seconds: number | null;
}

/** One call of the batch function, as the service makes it; rows in item order. */
async function batch(items: Item[]): Promise<BatchRow[]> {
  const rows = (await t.db.query(`SELECT * FROM quota_reserve_batch($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`, [
    WORKSPACE,
    now,
    items.map((i) => i.user),
    items.map((i) => i.request),
    items.map((i) => i.tokens),
    items.map(() => null),
    items.map(() => null),
    items.map(() => null),
    items.map(() => 600),
    items.map(() => randomUUID()),
  ])) as BatchRow[];
  return rows.sort((a, b) => a.item - b.item);
}

beforeAll(async () => {
  t = await createTestApp({ clock });
  admin = bearer(t.token('root', { role: 'admin' }));
  // the workspace and its starter plans
  expect((await reserve(t, { userId: 'nobody', requestId: 'seed', estimatedTokens: 0 })).statusCode).toBe(201);
});
afterAll(async () => t.close());

describe('one batch', () => {
  it('answers a request id that comes twice with the same reservation, held once', async () => {
    // items are decided in (user, position) order: 'twice' before 'twin'
    await planFor(['twice', 'twin'], { monthlyTokenLimit: 1000 });
    const rows = await batch([
      { user: 'twin', request: 'dup-1', tokens: 5 },
      { user: 'twice', request: 'dup-1', tokens: 400 },
      { user: 'twice', request: 'dup-1', tokens: 400 },
      { user: 'twice', request: 'dup-2', tokens: 600 },
    ]);
    expect(rows.map((r) => r.outcome)).toEqual(['conflict', 'granted', 'existing', 'granted']);
    expect(rows[2]!.reservation_id).toBe(rows[1]!.reservation_id);
    expect(rows[0]!.reserved_for).toBe('twice');
    expect(await tokensOf('twice')).toMatchObject({ used: 0, reserved: 1000, remaining: 0 });
    expect(await tokensOf('twin')).toMatchObject({ reserved: 0 });
    // and again in a later batch: the same reservation, nothing more held
    const again = await batch([{ user: 'twice', request: 'dup-1', tokens: 400 }]);
    expect(again[0]).toMatchObject({ outcome: 'existing', reservation_id: rows[1]!.reservation_id });
    expect(await tokensOf('twice')).toMatchObject({ reserved: 1000 });
  });

  it('grants in order of position while the room lasts, per user', async () => {
    await planFor(['fit-a', 'fit-b'], { monthlyTokenLimit: 10 });
    await ingest(t, admin, [usageRecord({ userId: 'fit-a', inputTokens: 5, outputTokens: 0 })], {
      expectAccepted: true,
    });
    const items: Item[] = [];
    for (let i = 0; i < 12; i += 1) {
      items.push({ user: 'fit-a', request: `fit-a-${i}`, tokens: 1 });
      items.push({ user: 'fit-b', request: `fit-b-${i}`, tokens: 1 });
    }
    const rows = await batch(items);
    const outcomes = (user: string) => rows.filter((r) => r.reserved_for === user).map((r) => r.outcome);
    expect(outcomes('fit-a')).toEqual([...Array(5).fill('granted'), ...Array(7).fill('quota_exceeded')]);
    expect(outcomes('fit-b')).toEqual([...Array(10).fill('granted'), ...Array(2).fill('quota_exceeded')]);
    expect(await tokensOf('fit-a')).toMatchObject({ used: 5, reserved: 5, remaining: 0 });
    expect(await tokensOf('fit-b')).toMatchObject({ used: 0, reserved: 10, remaining: 0 });
  });

  it('counts the batch’s own grants against the plan’s requests per minute', async () => {
    await planFor(['burst'], { requestsPerMinute: 3 });
    const rows = await batch(
      Array.from({ length: 5 }, (_, i) => ({ user: 'burst', request: `burst-${i}`, tokens: 1 })),
    );
    expect(rows.map((r) => r.outcome)).toEqual(['granted', 'granted', 'granted', 'rate_limited', 'rate_limited']);
    expect(rows[3]!.retry_after_seconds).toBe(60);
  });
});

describe('many at once', () => {
  it('grants exactly each user’s room when 300 requests for 6 users race through two instances', async () => {
    const users = Array.from({ length: 6 }, (_, i) => `crowd-${i}`);
    await planFor(users, { monthlyTokenLimit: 10 });
    const second = await createTestApp({ clock, databaseUrl: t.databaseUrl });
    try {
      const answers = await Promise.all(
        Array.from({ length: 300 }, (_, i) =>
          reserve(i % 2 === 0 ? t : second, {
            userId: users[(i * 7) % users.length],
            requestId: `crowd-${i}`,
            estimatedTokens: 1,
          }),
        ),
      );
      expect(answers.filter((a) => a.statusCode === 201)).toHaveLength(60);
      expect(answers.filter((a) => a.statusCode === 429)).toHaveLength(240);
      for (const user of users) expect(await tokensOf(user)).toMatchObject({ reserved: 10, remaining: 0 });
    } finally {
      await second.app.close();
      await second.db.destroy();
    }
  });

  it('does not wait for an ingest transaction that holds the user’s usage row, and stays exact', async () => {
    await planFor(['busy'], { monthlyTokenLimit: 1000 });
    await ingest(t, admin, [usageRecord({ userId: 'busy', inputTokens: 100, outputTokens: 0 })], {
      expectAccepted: true,
    });
    const held = await reserve(t, { userId: 'busy', requestId: 'busy-held', estimatedTokens: 300 });
    expect(held.statusCode).toBe(201);
    // what ingest does while it settles a reservation: the usage row locked until it commits
    const ingestLike = new pg.Client({ connectionString: t.databaseUrl });
    await ingestLike.connect();
    try {
      await ingestLike.query('BEGIN');
      await ingestLike.query(
        `UPDATE quota_usage SET tokens = tokens + 300 WHERE workspace_id = $1 AND user_id = 'busy'`,
        [WORKSPACE],
      );
      await ingestLike.query(
        `UPDATE quota_reservations SET status = 'settled' WHERE workspace_id = $1 AND request_id = 'busy-held'`,
        [WORKSPACE],
      );
      const during = await reserve(t, { userId: 'busy', requestId: 'busy-1', estimatedTokens: 600 });
      // before the commit it sees 100 used + 300 held, as after it 400 used: room for 600 either way
      expect(during.statusCode).toBe(201);
      expect(during.json().tokens).toMatchObject({ used: 100, reserved: 900, remaining: 0 });
      await ingestLike.query('COMMIT');
    } finally {
      await ingestLike.end();
    }
    expect((await reserve(t, { userId: 'busy', requestId: 'busy-2', estimatedTokens: 1 })).statusCode).toBe(429);
    expect(await tokensOf('busy')).toMatchObject({ used: 400, reserved: 600, remaining: 0 });
  });

  it('answers another workspace while one waits for a user’s lock, and the waiting one once it is free', async () => {
    const other = bearer(t.token('root', { role: 'admin', workspaceId: 'other-team' }));
    // what another instance's batch holds while it decides this user's reservations
    const instance = new pg.Client({ connectionString: t.databaseUrl });
    await instance.connect();
    try {
      await instance.query('BEGIN');
      await instance.query(`SELECT pg_advisory_xact_lock(hashtext($1), hashtext('locked-user'))`, [WORKSPACE]);
      const waiting = reserve(t, { userId: 'locked-user', requestId: 'locked-1', estimatedTokens: 5 });
      let answered = false;
      void waiting.then(() => (answered = true));
      await new Promise((done) => setTimeout(done, 100));
      const elsewhere = await reserve(t, { userId: 'someone', requestId: 'elsewhere-1', estimatedTokens: 5 }, other);
      expect(elsewhere.statusCode, elsewhere.body).toBe(201);
      expect(answered).toBe(false);
      await instance.query('COMMIT');
      expect((await waiting).statusCode).toBe(201);
    } finally {
      await instance.end();
    }
  });
});

describe('what is kept in memory', () => {
  it('refuses a revoked API key at once on the instance that revoked it', async () => {
    const created = await t.app.inject({
      method: 'POST',
      url: '/v1/admin/api-keys',
      headers: admin,
      payload: { name: 'reserver' },
    });
    expect(created.statusCode, created.body).toBe(201);
    const key = { 'x-api-key': created.json().key as string };
    await planFor(['keyed'], { monthlyTokenLimit: 1000 });
    expect((await reserve(t, { userId: 'keyed', requestId: 'keyed-1', estimatedTokens: 1 }, key)).statusCode).toBe(201);
    const revoked = await t.app.inject({
      method: 'DELETE',
      url: `/v1/admin/api-keys/${created.json().apiKey.id}`,
      headers: admin,
    });
    expect(revoked.statusCode).toBe(204);
    const after = await reserve(t, { userId: 'keyed', requestId: 'keyed-2', estimatedTokens: 1 }, key);
    expect(after.statusCode).toBe(401);
    expect(after.json()).toMatchObject({ code: 'unauthorized' });
  });

  it('estimates the next reservation with a price added a moment before', async () => {
    await planFor(['pricey'], { monthlyCostLimit: '1.00' });
    const model = await t.app.inject({
      method: 'POST',
      url: '/v1/admin/models',
      headers: admin,
      payload: {
        provider: 'acmeai',
        model: 'quota-1',
        kind: 'language',
        price: { effectiveFrom: '2020-01-01T00:00:00Z', inputPerMillion: '1.00', outputPerMillion: '2.00' },
      },
    });
    expect(model.statusCode, model.body).toBe(201);
    const call = (requestId: string) =>
      reserve(t, { userId: 'pricey', requestId, estimatedTokens: 1000, provider: 'acmeai', model: 'quota-1' });
    // 1,000 tokens at $2 per million: $0.002
    expect((await call('price-1')).statusCode).toBe(201);
    const raised = await t.app.inject({
      method: 'POST',
      url: `/v1/admin/models/${model.json().id}/prices`,
      headers: admin,
      payload: { price: { effectiveFrom: '2026-11-01T00:00:00Z', inputPerMillion: '1.00', outputPerMillion: '2000' } },
    });
    expect(raised.statusCode, raised.body).toBe(201);
    // now $2 for the same call: over the $1 limit
    const refused = await call('price-2');
    expect(refused.statusCode).toBe(429);
    expect(refused.json()).toMatchObject({ code: 'quota_exceeded' });
  });
});
