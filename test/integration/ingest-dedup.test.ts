import { foldPending } from '../../src/infrastructure/persistence/pg-rollup-folder';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingest, usageRecords } from '../support/records';
import { bearer, createTestApp, type TestApp } from '../support/test-app';

/** Idempotency on (workspace, requestId): first write wins, across batches, months and concurrent requests. */
let t: TestApp;
let admin: Record<string, string>;
const WS = 'default';

beforeAll(async () => {
  t = await createTestApp();
  admin = bearer(t.token('root', { role: 'admin', workspaceId: WS }));
});
afterAll(async () => t.close());

/** Everything stored for request ids starting with a prefix: raw rows, ledger rows, rollup sums. */
async function snapshot(prefix: string) {
  await foldPending(t.db); // what the service's background fold does
  const [row] = (await t.db.query(
    `SELECT (SELECT count(*) FROM usage_records WHERE workspace_id = $1 AND request_id LIKE $2 || '%')::int AS records,
            (SELECT count(*) FROM usage_request_ids WHERE workspace_id = $1 AND request_id LIKE $2 || '%')::int AS ids,
            (SELECT coalesce(sum(requests), 0) FROM usage_hourly WHERE workspace_id = $1 AND model = $2)::int AS rollup_requests,
            (SELECT coalesce(sum(input_tokens), 0) FROM usage_hourly WHERE workspace_id = $1 AND model = $2)::int AS rollup_input,
            (SELECT coalesce(sum(cost), 0) FROM usage_hourly WHERE workspace_id = $1 AND model = $2)::text AS rollup_cost`,
    [WS, prefix],
  )) as Array<{ records: number; ids: number; rollup_requests: number; rollup_input: number; rollup_cost: string }>;
  return row!;
}

/** Each test uses its own request id prefix and model name, so the rollup rows are its own too. */
const records = (prefix: string, n: number, fields: Record<string, unknown> = {}) =>
  usageRecords(n, (i) => ({
    requestId: `${prefix}${i}`,
    occurredAt: `2026-05-10T0${i % 10}:00:00Z`,
    provider: 'openai',
    model: prefix,
    inputTokens: 100 + i,
    outputTokens: 10,
    cost: '0.01',
    ...fields,
  }));

describe('dedup', () => {
  it('accepts nothing new when the same batch is sent twice', async () => {
    const batch = records('twice-', 25);
    expect(await ingest(t, admin, batch)).toEqual({ accepted: 25, duplicates: 0, rejected: [] });
    const before = await snapshot('twice-');
    expect(before).toEqual({ records: 25, ids: 25, rollup_requests: 25, rollup_input: 2800, rollup_cost: '0.25' });

    expect(await ingest(t, admin, batch)).toEqual({ accepted: 0, duplicates: 25, rejected: [] });
    expect(await snapshot('twice-')).toEqual(before);
  });

  it('counts only the new records of a batch that overlaps an earlier one', async () => {
    const batch = records('overlap-', 10);
    expect(await ingest(t, admin, batch.slice(0, 6))).toEqual({ accepted: 6, duplicates: 0, rejected: [] });
    expect(await ingest(t, admin, batch)).toEqual({ accepted: 4, duplicates: 6, rejected: [] });
    expect((await snapshot('overlap-')).records).toBe(10);
  });

  it('keeps the first of two records with one requestId inside one batch', async () => {
    const first = {
      requestId: 'inner-1',
      occurredAt: '2026-05-11T08:00:00Z',
      userId: 'first-user',
      provider: 'openai',
      model: 'inner-',
      inputTokens: 111,
      outputTokens: 11,
      cost: '0.111',
      metadata: { copy: 'first' },
    };
    const second = {
      ...first,
      occurredAt: '2026-05-11T09:30:00Z',
      userId: 'second-user',
      inputTokens: 222,
      outputTokens: 22,
      cost: '0.222',
      metadata: { copy: 'second' },
    };
    expect(await ingest(t, admin, [first, second])).toEqual({ accepted: 1, duplicates: 1, rejected: [] });
    const rows = (await t.db.query(
      `SELECT occurred_at, user_id, input_tokens::int, output_tokens::int, cost::text, metadata
       FROM usage_records WHERE workspace_id = $1 AND request_id = 'inner-1'`,
      [WS],
    )) as Array<Record<string, unknown>>;
    expect(rows).toEqual([
      {
        occurred_at: new Date('2026-05-11T08:00:00Z'),
        user_id: 'first-user',
        input_tokens: 111,
        output_tokens: 11,
        cost: '0.111',
        metadata: { copy: 'first' },
      },
    ]);
    expect(await snapshot('inner-')).toEqual({
      records: 1,
      ids: 1,
      rollup_requests: 1,
      rollup_input: 111,
      rollup_cost: '0.111',
    });
  });

  it('treats a copy re-sent with another occurredAt, even in another month, as a duplicate', async () => {
    const original = records('moved-', 3, { occurredAt: '2026-05-12T10:00:00Z' });
    expect(await ingest(t, admin, original)).toEqual({ accepted: 3, duplicates: 0, rejected: [] });
    const before = await snapshot('moved-');

    for (const occurredAt of ['2026-05-12T10:00:01Z', '2026-07-01T00:00:00Z', '2025-02-03T04:05:06Z']) {
      const moved = original.map((r) => ({ ...r, occurredAt, inputTokens: 9999, cost: '9' }));
      expect(await ingest(t, admin, moved)).toEqual({ accepted: 0, duplicates: 3, rejected: [] });
    }
    expect(await snapshot('moved-')).toEqual(before);
    const months = (await t.db.query(
      `SELECT DISTINCT occurred_at FROM usage_records WHERE workspace_id = $1 AND request_id LIKE 'moved-%'`,
      [WS],
    )) as Array<{ occurred_at: Date }>;
    expect(months).toEqual([{ occurred_at: new Date('2026-05-12T10:00:00Z') }]);
    await foldPending(t.db); // what the service's background fold does
    const [rollup] = (await t.db.query(
      `SELECT count(*)::int AS buckets, min(bucket_start) AS bucket FROM usage_hourly WHERE workspace_id = $1 AND model = 'moved-'`,
      [WS],
    )) as Array<{ buckets: number; bucket: Date }>;
    expect(rollup).toEqual({ buckets: 1, bucket: new Date('2026-05-12T10:00:00Z') });
  });

  it('stores a batch once when two identical requests race', async () => {
    const batch = records('race-', 200);
    const bodies = await Promise.all([ingest(t, admin, batch), ingest(t, admin, batch), ingest(t, admin, batch)]);
    expect(bodies.reduce((sum, b) => sum + b.accepted, 0)).toBe(200);
    expect(bodies.reduce((sum, b) => sum + b.duplicates, 0)).toBe(400);
    for (const body of bodies) expect(body.accepted + body.duplicates).toBe(200);
    expect(await snapshot('race-')).toMatchObject({
      records: 200,
      ids: 200,
      rollup_requests: 200,
      rollup_cost: '2.00',
    });
  });

  it('stores overlapping batches sent concurrently in opposite orders once each, without failing', async () => {
    // without a fixed claim order the two transactions wait on each other's ids: a deadlock, a 500
    for (let round = 0; round < 8; round += 1) {
      const all = records(`swap${round}-`, 500).map((r) => ({ ...r, model: 'swap-' }));
      // odd rounds: the second batch overlaps only partly; a reversed copy, since reversing `all` in
      // place would send both batches in the same order
      const backward = (round % 2 === 0 ? all : all.slice(100)).slice().reverse();
      const bodies = await Promise.all([ingest(t, admin, all), ingest(t, admin, backward)]);
      expect(bodies[0]!.accepted + bodies[1]!.accepted).toBe(500);
      expect(bodies[0]!.duplicates + bodies[1]!.duplicates).toBe(backward.length);
    }
    expect(await snapshot('swap')).toMatchObject({ records: 4000, ids: 4000 });
    await foldPending(t.db); // what the service's background fold does
    const [rollup] = (await t.db.query(
      `SELECT sum(requests)::int AS requests FROM usage_hourly WHERE workspace_id = $1 AND model = 'swap-'`,
      [WS],
    )) as Array<{ requests: number }>;
    expect(rollup!.requests).toBe(4000);
  });

  it('stores records whose ids differ only in case as different records', async () => {
    const batch = [...records('case-', 1), ...records('CASE-', 1).map((r) => ({ ...r, model: 'case-' }))];
    expect(await ingest(t, admin, batch)).toEqual({ accepted: 2, duplicates: 0, rejected: [] });
  });

  it('does not let a rejected record claim its requestId', async () => {
    const bad = { ...records('claim-', 1)[0], inputTokens: -1 };
    const res = await ingest(t, admin, [bad]);
    expect(res.accepted).toBe(0);
    expect(res.rejected).toHaveLength(1);
    expect(await ingest(t, admin, records('claim-', 1))).toEqual({ accepted: 1, duplicates: 0, rejected: [] });
  });
});
