import pg from 'pg';
import type { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createTestApp, type TestApp } from '../support/test-app';
import { ingest, rollupAndRecomputation, seededRandom, type Row } from '../support/usage-checks';

const NOW = new Date('2025-06-10T00:00:00Z');
const FIRST_HOUR = Date.parse('2025-06-07T00:00:00Z');
const HOUR_MS = 3_600_000;
const MODELS = [
  { provider: 'openai', model: 'gpt-4o' },
  { provider: 'anthropic', model: 'claude-3-5-sonnet' },
  { provider: 'acmeai', model: 'tally-unknown' },
];
const PEOPLE: Record<string, string[]> = { default: ['x', 'y', 'z'], acme: ['x', 'y'] };

type UsageInput = Record<string, unknown> & { requestId: string; userId: string };

/** Random usage with distinct request ids per record, plus re-sends of earlier records by their own user. */
function usageBatches(seed: number): Array<{ workspaceId: string; records: UsageInput[] }> {
  const random = seededRandom(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const int = (max: number) => Math.floor(random() * (max + 1));
  const sent = new Map<string, UsageInput[]>([
    ['default', []],
    ['acme', []],
  ]);
  let next = 0;
  return Array.from({ length: 10 }, () => {
    const workspaceId = pick(Object.keys(PEOPLE));
    const earlier = sent.get(workspaceId)!;
    const records = Array.from({ length: 20 + int(80) }, (): UsageInput => {
      if (earlier.length > 0 && random() < 0.2) return { ...pick(earlier), inputTokens: int(999) }; // a re-send
      const { provider, model } = pick(MODELS);
      const record: UsageInput = {
        requestId: `${workspaceId}-req-${(next += 1)}`,
        userId: pick(PEOPLE[workspaceId]!),
        provider,
        model,
        occurredAt: new Date(FIRST_HOUR + Math.floor(random() * 60 * HOUR_MS)).toISOString(),
        inputTokens: int(10_000),
        outputTokens: int(2_000),
        durationMs: int(20_000),
      };
      if (random() < 0.2) record.cost = `0.${String(int(99_999)).padStart(5, '0')}`;
      if (random() < 0.1) record.error = 'timeout';
      return record;
    });
    earlier.push(...records);
    return { workspaceId, records };
  });
}

/** Everything stored about usage, in a stable order (received_at aside: it is the time of arrival). */
async function storedUsage(db: DataSource): Promise<{ records: Row[]; ledger: Row[]; rollup: Row[] }> {
  const [records, ledger, rollup] = await Promise.all([
    db.query(`
      SELECT workspace_id, request_id, occurred_at::text, user_id, provider, model, operation,
        input_tokens::text, output_tokens::text, cached_input_tokens::text, cache_write_tokens::text,
        reasoning_tokens::text, total_tokens::text, duration_ms::text, success::text, error, cost::text,
        cost_status, metadata::text
      FROM usage_records ORDER BY workspace_id, request_id`),
    db.query(`SELECT workspace_id, request_id, occurred_at::text FROM usage_request_ids ORDER BY 1, 2`),
    rollupAndRecomputation(db).then((both) => both.rollup),
  ]);
  return { records: records as Row[], ledger: ledger as Row[], rollup };
}

const only = (rows: Row[], workspaceId: string, userId?: string) =>
  rows.filter((row) => row.workspace_id === workspaceId && (userId === undefined || row.user_id === userId));

let t: TestApp;
let ghost: TestApp; // the same usage, except that user x of workspace "default" never sent any
const batches = usageBatches(424242);
const isErased = (workspaceId: string, record: UsageInput) => workspaceId === 'default' && record.userId === 'x';

beforeAll(async () => {
  [t, ghost] = await Promise.all([
    createTestApp({ clock: { now: () => NOW } }),
    createTestApp({ clock: { now: () => NOW } }),
  ]);
  for (const { workspaceId, records } of batches) {
    const token = (app: TestApp) => app.token('boss', { role: 'admin', workspaceId });
    expect((await ingest(t, token(t), records)).rejected).toEqual([]);
    const kept = records.filter((record) => !isErased(workspaceId, record));
    if (kept.length > 0) await ingest(ghost, token(ghost), kept);
  }
});
afterAll(async () => Promise.all([t?.close(), ghost?.close()]));

const erase = (app: TestApp, userId: string, headers: Record<string, string>) =>
  app.app.inject({ method: 'DELETE', url: `/v1/admin/users/${encodeURIComponent(userId)}/usage`, headers });

describe('DELETE /v1/admin/users/{userId}/usage', () => {
  it('is for admins of the workspace only', async () => {
    expect((await erase(t, 'x', {})).statusCode).toBe(401);
    expect((await erase(t, 'x', bearer(t.token('x')))).statusCode).toBe(403);
    expect((await erase(t, 'x', bearer(t.token('y', { role: 'member' })))).statusCode).toBe(403);

    const created = await t.app.inject({
      method: 'POST',
      url: '/v1/admin/api-keys',
      headers: bearer(t.token('boss', { role: 'admin' })),
      payload: { name: 'backend' },
    });
    expect(created.statusCode).toBe(201);
    expect((await erase(t, 'x', { 'x-api-key': created.json<{ key: string }>().key })).statusCode).toBe(401);

    const tooLong = await erase(t, 'u'.repeat(201), bearer(t.token('boss', { role: 'admin' })));
    expect(tooLong.statusCode).toBe(400);
    expect(tooLong.json()).toMatchObject({ code: 'validation_failed' });

    // nothing was erased by any of these
    const stored = await storedUsage(t.db);
    expect(only(stored.records, 'default', 'x').length).toBeGreaterThan(0);
  });

  it('erases the user’s usage as if the user had never existed, in that workspace only', async () => {
    const before = await storedUsage(t.db);
    const xRecords = only(before.records, 'default', 'x');
    const xRequestIds = new Set(xRecords.map((row) => row.request_id));
    expect(xRecords.length).toBeGreaterThan(20);
    expect(before.ledger.filter((row) => row.workspace_id === 'default' && xRequestIds.has(row.request_id))).toHaveLength(
      xRecords.length,
    );

    const res = await erase(t, 'x', bearer(t.token('boss', { role: 'admin' })));
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      userId: 'x',
      deletedRecords: xRecords.length,
      deletedRollupRows: only(before.rollup, 'default', 'x').length,
    });

    const after = await storedUsage(t.db);
    // no trace of x in "default": records, rollup rows, request ids
    expect(only(after.records, 'default', 'x')).toEqual([]);
    expect(only(after.rollup, 'default', 'x')).toEqual([]);
    expect(after.ledger.filter((row) => row.workspace_id === 'default' && xRequestIds.has(row.request_id))).toEqual([]);
    // everyone else, and x in another workspace, untouched
    for (const [workspaceId, userId] of [
      ['default', 'y'],
      ['default', 'z'],
      ['acme', 'x'],
      ['acme', 'y'],
    ] as const) {
      expect(only(after.records, workspaceId, userId)).toEqual(only(before.records, workspaceId, userId));
      expect(only(after.rollup, workspaceId, userId)).toEqual(only(before.rollup, workspaceId, userId));
    }
    expect(only(after.ledger, 'acme')).toEqual(only(before.ledger, 'acme'));
    expect(only(after.records, 'acme', 'x').length).toBeGreaterThan(0);

    // exactly the state of a world in which x never sent usage to "default"
    expect(after).toEqual(await storedUsage(ghost.db));
    const { rollup, recomputed } = await rollupAndRecomputation(t.db);
    expect(rollup).toEqual(recomputed);
  });

  it('is idempotent, and an erased request id is new again', async () => {
    const admin = bearer(t.token('boss', { role: 'admin' }));
    const again = await erase(t, 'x', admin);
    expect(again.statusCode).toBe(200);
    expect(again.json()).toEqual({ userId: 'x', deletedRecords: 0, deletedRollupRows: 0 });

    // the ledger forgot the id with the record: a re-send after erasure is a new record of x
    const resent = batches.flatMap((b) => (b.workspaceId === 'default' ? b.records : [])).find((r) => r.userId === 'x')!;
    expect(await ingest(t, t.token('boss', { role: 'admin' }), [resent])).toMatchObject({ accepted: 1 });
    const { rollup, recomputed } = await rollupAndRecomputation(t.db);
    expect(rollup).toEqual(recomputed);
    expect((await erase(t, 'x', admin)).json()).toMatchObject({ deletedRecords: 1, deletedRollupRows: 1 });
  });

  it('waits for an ingest that holds the user’s rollup row and erases what it committed too', async () => {
    const admin = t.token('boss', { role: 'admin', workspaceId: 'race' });
    const usage = (requestId: string, hour: number) => ({
      requestId,
      userId: 'x',
      provider: 'openai',
      model: 'gpt-4o',
      occurredAt: new Date(FIRST_HOUR + hour * HOUR_MS).toISOString(),
      inputTokens: 10,
      outputTokens: 5,
    });
    await ingest(t, admin, [usage('race-1', 0), usage('race-2', 1)]);

    // an "ingest" caught mid-transaction: a new record of x whose sums went into an existing row
    const writer = new pg.Client({ connectionString: t.databaseUrl });
    await writer.connect();
    try {
      await writer.query('BEGIN');
      await writer.query(`INSERT INTO usage_request_ids VALUES ('race', 'race-3', $1)`, [usage('', 0).occurredAt]);
      await writer.query(
        `INSERT INTO usage_records (workspace_id, occurred_at, request_id, user_id, provider, model,
           input_tokens, output_tokens, total_tokens, success, cost_status)
         VALUES ('race', $1, 'race-3', 'x', 'openai', 'gpt-4o', 10, 5, 15, true, 'unpriced')`,
        [usage('', 0).occurredAt],
      );
      await writer.query(
        `UPDATE usage_hourly SET requests = requests + 1, input_tokens = input_tokens + 10,
           output_tokens = output_tokens + 5, total_tokens = total_tokens + 15,
           unpriced_requests = unpriced_requests + 1
         WHERE workspace_id = 'race' AND user_id = 'x' AND bucket_start = $1`,
        [usage('', 0).occurredAt],
      );
      const pending = erase(t, 'x', bearer(t.token('boss', { role: 'admin', workspaceId: 'race' })));
      await new Promise((resolve) => setTimeout(resolve, 300));
      await writer.query('COMMIT');
      const res = await pending;
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual({ userId: 'x', deletedRecords: 3, deletedRollupRows: 2 });
    } finally {
      await writer.end();
    }
    const left = await storedUsage(t.db);
    expect(only(left.records, 'race')).toEqual([]);
    expect(only(left.ledger, 'race')).toEqual([]);
    expect(only(left.rollup, 'race')).toEqual([]);
  });

  it('gets through while another session keeps updating the user’s rollup rows', async () => {
    const workspaceId = 'hot';
    const admin = t.token('boss', { role: 'admin', workspaceId });
    await ingest(t, admin, [
      { requestId: 'hot-1', userId: 'x', provider: 'openai', model: 'gpt-4o', inputTokens: 1, outputTokens: 1 },
    ]);
    // each short transaction touches the row again: optimistic attempts fail one after the
    // other until the last one locks the rollup table for itself
    const writer = new pg.Client({ connectionString: t.databaseUrl });
    await writer.connect();
    let erased = false;
    const churn = (async () => {
      while (!erased) {
        await writer.query('BEGIN');
        await writer.query(`UPDATE usage_hourly SET requests = requests WHERE workspace_id = 'hot' AND user_id = 'x'`);
        await new Promise((resolve) => setTimeout(resolve, 40));
        await writer.query('COMMIT');
      }
    })();
    try {
      await new Promise((resolve) => setTimeout(resolve, 20));
      const res = await erase(t, 'x', bearer(admin));
      erased = true;
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual({ userId: 'x', deletedRecords: 1, deletedRollupRows: 1 });
    } finally {
      erased = true;
      await churn;
      await writer.end();
    }
    const left = await storedUsage(t.db);
    expect(only(left.records, workspaceId)).toEqual([]);
    expect(only(left.rollup, workspaceId)).toEqual([]);
  });

  it('keeps rollups equal to the raw records when erasures race with ingest', async () => {
    const workspaceId = 'busy';
    const admin = t.token('boss', { role: 'admin', workspaceId });
    const batch = (n: number) =>
      Array.from({ length: 100 }, (_, i) => ({
        requestId: `busy-${n}-${i}`,
        userId: i % 2 === 0 ? 'x' : 'y',
        provider: 'openai',
        model: i % 3 === 0 ? 'gpt-4o' : 'tally-unknown',
        occurredAt: new Date(FIRST_HOUR + (i % 4) * HOUR_MS).toISOString(),
        inputTokens: 100 + i,
        outputTokens: n,
      }));
    const eraseX = async () => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      const res = await erase(t, 'x', bearer(admin));
      expect(res.statusCode).toBe(200);
    };
    await Promise.all([
      ...Array.from({ length: 12 }, (_, n) => ingest(t, admin, batch(n))),
      eraseX(),
      eraseX(),
      eraseX(),
    ]);
    const { rollup, recomputed } = await rollupAndRecomputation(t.db);
    expect(rollup).toEqual(recomputed);
    expect(only(rollup, workspaceId, 'y').reduce((sum, row) => sum + Number(row.requests), 0)).toBe(12 * 50);
  });

  it('is in the OpenAPI document', async () => {
    const doc = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json();
    const operation = doc.paths['/v1/admin/users/{userId}/usage'].delete;
    expect(operation).toMatchObject({ operationId: 'eraseUserUsage', tags: ['usage'] });
    expect(Object.keys(operation.responses).sort()).toEqual(['200', '400', '401', '403']);
  });
});
