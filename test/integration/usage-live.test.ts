import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { foldPending } from '../../src/infrastructure/persistence/pg-rollup-folder';
import { ingest } from '../support/records';
import { createTestApp, type TestApp } from '../support/test-app';
import { adminOf, createDatasetApp, get, getOk, memberOf, type Headers } from '../support/usage-dataset';

/**
 * GET /v1/admin/usage/realtime on a clock of 2026-12-05T10:30:30Z: the hour is the 60 minutes
 * [09:31, 10:31). Records (left pending: the answer must not wait for the fold):
 *   r1 10:30:10 u1 chat        100/50  200 ms
 *   r2 10:29:40 u2 embeddings 1000/0   100 ms   (in the last 60 s with r1)
 *   r3 10:29:00 u1 chat         10/5   400 ms   failed
 *   r4 09:31:00 u3 (none)        1/1            the first minute
 *   r5 09:30:59 u3 (none)        1/1            before the hour
 *   x1 10:30:00 in another workspace
 */
const NOW = new Date('2026-12-05T10:30:30Z');
let t: TestApp;
let admin: Headers;

const record = (requestId: string, occurredAt: string, userId: string, fields: Record<string, unknown>) => ({
  requestId,
  occurredAt,
  userId,
  provider: 'openai',
  model: 'gpt-4o',
  ...fields,
});

beforeAll(async () => {
  t = await createTestApp({ clock: { now: () => NOW } });
  admin = adminOf(t, 'live');
  await ingest(
    t,
    admin,
    [
      record('r1', '2026-12-05T10:30:10Z', 'u1', {
        operation: 'chat',
        inputTokens: 100,
        outputTokens: 50,
        durationMs: 200,
      }),
      record('r2', '2026-12-05T10:29:40Z', 'u2', {
        operation: 'embeddings',
        inputTokens: 1000,
        outputTokens: 0,
        durationMs: 100,
      }),
      record('r3', '2026-12-05T10:29:00Z', 'u1', {
        operation: 'chat',
        inputTokens: 10,
        outputTokens: 5,
        durationMs: 400,
        error: 'rate limited upstream',
      }),
      record('r4', '2026-12-05T09:31:00Z', 'u3', { inputTokens: 1, outputTokens: 1 }),
      record('r5', '2026-12-05T09:30:59Z', 'u3', { inputTokens: 1, outputTokens: 1 }),
    ],
    { expectAccepted: true, fold: false },
  );
  await ingest(
    t,
    adminOf(t, 'other'),
    [record('x1', '2026-12-05T10:30:00Z', 'z', { inputTokens: 9, outputTokens: 9 })],
    {
      expectAccepted: true,
      fold: false,
    },
  );
});

afterAll(() => t.close());

describe('GET /v1/admin/usage/realtime', () => {
  it('answers the last 60 minutes by minute and the hour as a whole, before any fold', async () => {
    const body = await getOk<Record<string, unknown> & { minutes: Array<Record<string, unknown>> }>(
      t,
      '/v1/admin/usage/realtime',
      admin,
    );
    expect(body.from).toBe('2026-12-05T09:31:00.000Z');
    expect(body.to).toBe('2026-12-05T10:31:00.000Z');
    expect(body.minutes).toHaveLength(60);
    expect(body.minutes[0]).toEqual({
      minuteStart: '2026-12-05T09:31:00.000Z',
      requests: 1,
      totalTokens: 2,
      errors: 0,
      avgDurationMs: null,
    });
    expect(body.minutes[58]).toEqual({
      minuteStart: '2026-12-05T10:29:00.000Z',
      requests: 2,
      totalTokens: 1015,
      errors: 1,
      avgDurationMs: 250,
    });
    expect(body.minutes[59]).toEqual({
      minuteStart: '2026-12-05T10:30:00.000Z',
      requests: 1,
      totalTokens: 150,
      errors: 0,
      avgDurationMs: 200,
    });
    expect(body.minutes.slice(1, 58).every((m) => m.requests === 0)).toBe(true);
    expect(body).toMatchObject({
      requests: 4,
      errors: 1,
      successRate: 0.75,
      activeUsers: 3,
      lastMinuteRequests: 2,
      operations: [
        { operation: 'chat', requests: 2, totalTokens: 165, errors: 1 },
        { operation: 'embeddings', requests: 1, totalTokens: 1000, errors: 0 },
        { operation: null, requests: 1, totalTokens: 2, errors: 0 },
      ],
    });
    expect(body.avgDurationMs).toBeCloseTo(700 / 3, 10);
  });

  it('is for admins only', async () => {
    expect((await get(t, '/v1/admin/usage/realtime', memberOf(t, 'u1', 'live'))).status).toBe(403);
    expect((await get(t, '/v1/admin/usage/realtime', undefined)).status).toBe(401);
  });

  it('an empty workspace has 60 zero minutes and no rates', async () => {
    const body = await getOk(t, '/v1/admin/usage/realtime', adminOf(t, 'empty'));
    expect(body).toMatchObject({ requests: 0, successRate: null, avgDurationMs: null, activeUsers: 0, operations: [] });
  });
});

describe('GET /v1/admin/status', () => {
  it('shows the pending backlog until the fold, then none; database size and the oldest partition', async () => {
    const before = await getOk<{
      rollupBacklog: { entries: number; oldestOccurredAt: string | null; ageSeconds: number | null };
      databaseBytes: number;
      oldestRawPartition: { name: string; from: string } | null;
      webhookBacklog: { pending: number; oldestCreatedAt: string | null };
    }>(t, '/v1/admin/status', admin);
    expect(before.rollupBacklog.entries).toBeGreaterThan(0);
    expect(before.rollupBacklog.oldestOccurredAt).not.toBeNull();
    expect(before.databaseBytes).toBeGreaterThan(1_000_000);
    expect(before.oldestRawPartition?.name).toMatch(/^usage_records_p\d{6}$/);
    expect(before.webhookBacklog).toEqual({ pending: 0, oldestCreatedAt: null });

    await foldPending(t.db);
    const after = await getOk<typeof before>(t, '/v1/admin/status', admin);
    expect(after.rollupBacklog).toEqual({ entries: 0, oldestOccurredAt: null, ageSeconds: null });
  });

  it('counts the records received in the last minute, of this workspace only', async () => {
    // received_at is the database's clock: a record occurring now (real time) counts
    const real = await createTestApp();
    try {
      const headers = adminOf(real, 'intake');
      await ingest(
        real,
        headers,
        [{ requestId: 'n1', provider: 'openai', model: 'gpt-4o', inputTokens: 1, outputTokens: 1 }],
        {
          expectAccepted: true,
        },
      );
      await ingest(real, adminOf(real, 'elsewhere'), [
        { requestId: 'n2', provider: 'openai', model: 'gpt-4o', inputTokens: 1, outputTokens: 1 },
      ]);
      expect(await getOk(real, '/v1/admin/status', headers)).toMatchObject({ acknowledgedLastMinute: 1 });
      expect((await get(real, '/v1/admin/status', memberOf(real, 'm', 'intake'))).status).toBe(403);
    } finally {
      await real.close();
    }
  });

  it('/health stays open and says nothing about usage', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/health' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'ok' });
  });
});

describe('stats: operations of the range; a member’s own records', () => {
  it('counts each operation exactly over ranges cut mid-hour, from pending usage and from the rollups alike', async () => {
    const headers = adminOf(t, 'ops');
    const operations = ['chat', 'embeddings', 'responses', undefined] as const;
    // 240 records over 40 hours before the clock, every 10 minutes, three users
    const records = Array.from({ length: 240 }, (_, i) => ({
      requestId: `ops-${i}`,
      occurredAt: new Date(NOW.getTime() - (i + 1) * 10 * 60_000 + 7_000).toISOString(),
      userId: `u${i % 3}`,
      provider: i % 4 === 0 ? 'anthropic' : 'openai',
      model: i % 4 === 0 ? 'claude-sonnet-4' : 'gpt-4o',
      ...(operations[(i % 7) % 4] && { operation: operations[(i % 7) % 4] }),
      inputTokens: 100 + i,
      outputTokens: i % 11,
      ...(i % 13 === 0 && { error: 'timeout' }),
    }));
    await ingest(t, headers, records.slice(0, 160), { expectAccepted: true });
    // the rest stays pending: the answer must count it once, before the fold and after
    await ingest(t, headers, records.slice(160), { expectAccepted: true, fold: false });

    const expected = async (from: string, to: string, userId?: string) =>
      (await t.db.query(
        `SELECT operation, count(*)::int AS requests, sum(total_tokens)::int AS "totalTokens",
             (count(*) FILTER (WHERE NOT success))::int AS errors
           FROM usage_records WHERE workspace_id = 'ops' AND occurred_at >= $1 AND occurred_at < $2
             AND ($3::text IS NULL OR user_id = $3)
           GROUP BY operation ORDER BY requests DESC, operation NULLS LAST`,
        [from, to, userId ?? null],
      )) as unknown[];
    const ranges = [
      { from: '2026-12-03T19:05:00Z', to: '2026-12-05T09:45:00Z', tz: 'Europe/Berlin' },
      { from: '2026-12-04T00:10:00Z', to: '2026-12-04T23:50:00Z', tz: 'Asia/Kolkata' },
      { from: '2026-12-04T03:00:00Z', to: '2026-12-05T10:30:30Z', tz: 'UTC', userId: 'u1' },
    ];
    for (const fold of [false, true]) {
      if (fold) await foldPending(t.db);
      for (const { userId, ...range } of ranges) {
        const body = await getOk<{ totals: { requests: number }; operations: unknown[] }>(
          t,
          '/v1/admin/usage/stats',
          headers,
          { ...range, ...(userId && { userId }) },
        );
        const want = await expected(range.from, range.to, userId);
        expect(want.length, JSON.stringify(range)).toBe(4);
        expect(body.operations, `${JSON.stringify(range)} folded: ${fold}`).toEqual(want);
      }
    }
  });

  it('breaks the range down by operation, summing to the totals', async () => {
    const d = await createDatasetApp();
    try {
      const body = await getOk<{
        totals: { requests: number; totalTokens: number; errors: number };
        operations: Array<{ operation: string | null; requests: number; totalTokens: number; errors: number }>;
      }>(d, '/v1/admin/usage/stats', adminOf(d));
      // a2 is the only "chat"; the other nine records of the range say nothing
      expect(body.operations).toEqual([
        { operation: null, requests: 9, totalTokens: 22_800, errors: 1 },
        { operation: 'chat', requests: 1, totalTokens: 3000, errors: 0 },
      ]);
      expect(body.operations.reduce((n, o) => n + o.requests, 0)).toBe(body.totals.requests);
      expect(body.operations.reduce((n, o) => n + o.totalTokens, 0)).toBe(body.totals.totalTokens);

      // a member's own latest records, for the My usage page: theirs only, newest first
      const mine = await getOk<{ items: Array<{ requestId: string; userId: string }> }>(
        d,
        '/v1/me/activity',
        memberOf(d, 'alice'),
        { limit: 10 },
      );
      expect(mine.items.map((r) => r.requestId)).toEqual(['a4', 'a3', 'a2']);
    } finally {
      await d.close();
    }
  });
});
