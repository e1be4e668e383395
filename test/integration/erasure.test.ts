import pg from 'pg';
import type { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADVISORY_LOCKS } from '../../src/infrastructure/persistence/advisory-locks';
import { foldPending } from '../../src/infrastructure/persistence/pg-rollup-folder';
import { GRAINS, ROLLUPS } from '../../src/infrastructure/persistence/rollup-registry';
import { ingest, usageRecord, usageRecords } from '../support/records';
import { bearer, createTestApp, type TestApp } from '../support/test-app';
import { rollupTables, rollupsAndRecomputations, seededRandom, usageTables, type Row } from '../support/usage-checks';

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

/** The tables that hold a user id, each user's rows of which erasure removes outright. */
const PER_USER_TABLES = [
  'usage_records',
  'usage_hourly',
  'usage_daily_user_models',
  'usage_daily_users',
  'usage_monthly_user_models',
  'usage_monthly_users',
];

const only = (rows: Row[] | undefined, workspaceId: string, userId?: string): Row[] =>
  (rows ?? []).filter((row) => row.workspace_id === workspaceId && (userId === undefined || row.user_id === userId));

/** Rollups equal a recomputation from the raw records, every one of them (cost as an amount). */
async function expectRollupsExact(db: DataSource): Promise<void> {
  for (const { table, rollup, recomputed } of await rollupsAndRecomputations(db, { numericCost: true }))
    expect(rollup, table).toEqual(recomputed);
}

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
    expect((await ingest(t, bearer(token(t)), records)).rejected).toEqual([]);
    const kept = records.filter((record) => !isErased(workspaceId, record));
    if (kept.length > 0) await ingest(ghost, bearer(token(ghost)), kept);
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
    const stored = await usageTables(t.db);
    expect(only(stored.usage_records, 'default', 'x').length).toBeGreaterThan(0);
  });

  it('erases the user’s usage as if the user had never existed, in that workspace only', async () => {
    const before = await usageTables(t.db);
    const rollups = rollupTables().map((r) => r.table);
    expect(rollups).toEqual(expect.arrayContaining(['usage_hourly', 'usage_hourly_models']));
    const xRecords = only(before.usage_records, 'default', 'x');
    const xRequestIds = new Set(xRecords.map((row) => row.request_id));
    expect(xRecords.length).toBeGreaterThan(20);
    expect(only(before.usage_request_ids, 'default').filter((row) => xRequestIds.has(row.request_id))).toHaveLength(
      xRecords.length,
    );

    const res = await erase(t, 'x', bearer(t.token('boss', { role: 'admin' })));
    expect(res.statusCode).toBe(200);
    const after = await usageTables(t.db);
    const rollupRowsIn = (dump: Record<string, Row[]>) =>
      rollups.reduce((sum, table) => sum + only(dump[table], 'default').length, 0);
    expect(res.json()).toEqual({
      userId: 'x',
      deletedRecords: xRecords.length,
      deletedRollupRows: rollupRowsIn(before) - rollupRowsIn(after),
    });

    // no trace of x in "default": raw records, per-user rollup rows, request ids
    for (const table of PER_USER_TABLES) expect(only(after[table], 'default', 'x'), table).toEqual([]);
    expect(only(after.usage_request_ids, 'default').filter((row) => xRequestIds.has(row.request_id))).toEqual([]);
    // everyone else, and x in another workspace, untouched
    for (const table of PER_USER_TABLES) {
      for (const [workspaceId, userId] of [
        ['default', 'y'],
        ['default', 'z'],
        ['acme', 'x'],
        ['acme', 'y'],
      ] as const) {
        expect(only(after[table], workspaceId, userId), table).toEqual(only(before[table], workspaceId, userId));
      }
    }
    for (const table of Object.keys(before))
      expect(only(after[table], 'acme'), table).toEqual(only(before[table], 'acme'));
    expect(only(after.usage_records, 'acme', 'x').length).toBeGreaterThan(0);

    // exactly the state of a world in which x never sent usage to "default": every table,
    // the model rollup (which has no user column) included
    expect(after).toEqual(await usageTables(ghost.db));
    await expectRollupsExact(t.db);
  });

  it('is idempotent, and an erased request id is new again', async () => {
    const admin = bearer(t.token('boss', { role: 'admin' }));
    const again = await erase(t, 'x', admin);
    expect(again.statusCode).toBe(200);
    expect(again.json()).toEqual({ userId: 'x', deletedRecords: 0, deletedRollupRows: 0 });

    // the ledger forgot the id with the record: a re-send after erasure is a new record of x
    const resent = batches
      .flatMap((b) => (b.workspaceId === 'default' ? b.records : []))
      .find((r) => r.userId === 'x')!;
    expect(await ingest(t, bearer(t.token('boss', { role: 'admin' })), [resent])).toMatchObject({ accepted: 1 });
    await expectRollupsExact(t.db);
    // its rows in the per-user rollups (and its pending row, folded already), and each row of
    // a rollup without users that holds nothing but this record (nobody else used the model
    // that hour or day)
    const perUser = ROLLUPS.filter((r) => r.dimensions.includes('user_id')).length;
    const shared = ROLLUPS.filter((r) => !r.dimensions.includes('user_id'));
    const [solo] = (await t.db.query(
      `SELECT ${shared
        .map((r) => {
          const grain = GRAINS[r.grain];
          const dims = r.dimensions.map((d) => ` AND ${d} = ${d === 'provider' ? '$2' : '$3'}`).join('');
          return `(SELECT count(*) FROM ${r.table} WHERE workspace_id = 'default' AND requests = 1
                   AND ${grain.column} = ${grain.ofRecord.replace(/occurred_at/g, '$1::timestamptz')}${dims})`;
        })
        .join(' + ')} AS n`,
      [resent.occurredAt, resent.provider, resent.model],
    )) as Array<{ n: string }>;
    const erased = (await erase(t, 'x', admin)).json();
    expect(erased).toEqual({ userId: 'x', deletedRecords: 1, deletedRollupRows: perUser + Number(solo!.n) });
    await expectRollupsExact(t.db);
  });

  it('does not wait for an ingest in flight, which stays whole and counts after the erasure', async () => {
    const workspaceId = 'race';
    const admin = t.token('boss', { role: 'admin', workspaceId });
    const usage = (requestId: string, hour: number) =>
      usageRecord({
        requestId,
        userId: 'x',
        provider: 'openai',
        model: 'gpt-4o',
        occurredAt: new Date(FIRST_HOUR + hour * HOUR_MS).toISOString(),
        inputTokens: 10,
        outputTokens: 5,
      });
    await ingest(t, bearer(admin), [usage('race-1', 0), usage('race-2', 1)]);

    // a batch of x caught mid-transaction, written as ingest writes it: ledger, raw, pending
    const at = usage('', 0).occurredAt;
    const writer = new pg.Client({ connectionString: t.databaseUrl });
    await writer.connect();
    try {
      await writer.query('BEGIN');
      await writer.query(`INSERT INTO usage_request_ids VALUES ('race', 'race-3', $1)`, [at]);
      await writer.query(
        `INSERT INTO usage_records (workspace_id, occurred_at, request_id, user_id, provider, model,
           input_tokens, output_tokens, total_tokens, success, cost_status)
         VALUES ('race', $1, 'race-3', 'x', 'openai', 'gpt-4o', 10, 5, 15, true, 'unpriced')`,
        [at],
      );
      await writer.query(
        `INSERT INTO usage_pending (workspace_id, bucket_start, slot_start, user_id, provider, model, requests,
           errors, input_tokens, output_tokens, cached_input_tokens, cache_write_tokens, reasoning_tokens,
           total_tokens, duration_ms_sum, duration_count, cost, unpriced_requests, unpriced_tokens, last_occurred_at)
         VALUES ('race', $1, $1, 'x', 'openai', 'gpt-4o', 1, 0, 10, 5, 0, 0, 0, 15, 0, 0, 0, 1, 15, $1)`,
        [at],
      );
      const res = await erase(t, 'x', bearer(admin));
      expect(res.statusCode).toBe(200);
      // hours 2 + user-hours 2 + model-hours 2 + provider-hours 2 + provider-slots 2 + one
      // row each of provider-quarter (both hours lie in one), user-day, user-model-day,
      // model-day, provider-day, user-dekad, user-month, user-model-month and model-month
      expect(res.json()).toEqual({ userId: 'x', deletedRecords: 2, deletedRollupRows: 19 });
      await writer.query('COMMIT');
    } finally {
      await writer.end();
    }
    await foldPending(t.db);
    await expectRollupsExact(t.db);
    const left = await usageTables(t.db);
    expect(only(left.usage_records, workspaceId).map((row) => row.request_id)).toEqual(['race-3']);
    expect(only(left.usage_daily_users, workspaceId).map((row) => row.requests)).toEqual(['1']);
  });

  it('waits for a fold in progress, and erases the user’s usage still pending', async () => {
    const workspaceId = 'hold';
    const admin = t.token('boss', { role: 'admin', workspaceId });
    await ingest(t, bearer(admin), [
      { requestId: 'hold-1', userId: 'x', provider: 'openai', model: 'gpt-4o', inputTokens: 1, outputTokens: 1 },
    ]);
    // sent, not folded yet
    await ingest(
      t,
      bearer(admin),
      [{ requestId: 'hold-2', userId: 'x', provider: 'openai', model: 'o3', inputTokens: 2, outputTokens: 2 }],
      { fold: false },
    );

    const folder = new pg.Client({ connectionString: t.databaseUrl });
    await folder.connect();
    try {
      await folder.query('SELECT pg_advisory_lock($1)', [ADVISORY_LOCKS.rollups]); // as a fold in progress holds it
      let settled = false;
      const pending = erase(t, 'x', bearer(admin)).finally(() => (settled = true));
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(settled).toBe(false);
      await folder.query('SELECT pg_advisory_unlock($1)', [ADVISORY_LOCKS.rollups]);
      const res = await pending;
      expect(res.statusCode).toBe(200);
      // the one folded record's row in each rollup, and the pending row
      expect(res.json()).toEqual({ userId: 'x', deletedRecords: 2, deletedRollupRows: ROLLUPS.length + 1 });
    } finally {
      await folder.end();
    }
    expect(await foldPending(t.db)).toBe(0);
    const left = await usageTables(t.db);
    for (const table of Object.keys(left)) expect(only(left[table], workspaceId), table).toEqual([]);
  });

  it('keeps rollups equal to the raw records when erasures race with ingest', async () => {
    const workspaceId = 'busy';
    const admin = t.token('boss', { role: 'admin', workspaceId });
    const batch = (n: number) =>
      usageRecords(100, (i) => ({
        requestId: `busy-${n}-${i}`,
        userId: i % 2 === 0 ? 'x' : 'y',
        provider: 'openai',
        model: i % 3 === 0 ? 'gpt-4o' : 'tally-unknown',
        ...(i % 5 !== 0 && { operation: i % 5 === 1 ? 'embeddings' : 'chat' }),
        occurredAt: new Date(FIRST_HOUR + (i % 4) * HOUR_MS).toISOString(),
        inputTokens: 100 + i,
        outputTokens: n,
      }));
    const eraseX = async () => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      const res = await erase(t, 'x', bearer(admin));
      expect(res.statusCode, res.body).toBe(200);
    };
    await Promise.all([
      ...Array.from({ length: 12 }, (_, n) => ingest(t, bearer(admin), batch(n))),
      eraseX(),
      eraseX(),
      eraseX(),
    ]);
    await expectRollupsExact(t.db);
    const { rollup } = (await rollupsAndRecomputations(t.db)).find((c) => c.table === 'usage_hourly')!;
    expect(only(rollup, workspaceId, 'y').reduce((sum, row) => sum + Number(row.requests), 0)).toBe(12 * 50);
  });

  it('tries again when a batch of the user’s commits meanwhile, and erases everything', async () => {
    const workspaceId = 'contend';
    const admin = t.token('boss', { role: 'admin', workspaceId });
    await ingest(t, bearer(admin), [
      usageRecord({ requestId: 'contend-1', userId: 'x', occurredAt: new Date(FIRST_HOUR).toISOString() }),
    ]);
    // a batch of x's in flight holds x's quota count, which the erasure deletes
    const writer = new pg.Client({ connectionString: t.databaseUrl });
    await writer.connect();
    try {
      await writer.query('BEGIN');
      const held = await writer.query(
        `UPDATE quota_usage SET tokens = tokens + 1 WHERE workspace_id = $1 AND user_id = 'x'`,
        [workspaceId],
      );
      expect(held.rowCount).toBe(1);
      const erased = erase(t, 'x', bearer(admin));
      // the erasure waits for that row (the writer's transaction id), in its one statement;
      // looked at outside the writer's transaction, which would see pg_stat_activity as it was
      // at its first look
      const waiting = async (): Promise<string[]> =>
        (
          (await t.db.query(
            `SELECT concat_ws(' ', wait_event_type, wait_event, left(query, 60)) AS activity FROM pg_stat_activity
             WHERE datname = current_database() AND pid <> pg_backend_pid() AND state = 'active'`,
          )) as Array<{ activity: string }>
        ).map((r) => r.activity);
      for (let tries = 0; ; tries += 1) {
        const activity = await waiting();
        if (activity.some((a) => a.startsWith('Lock transactionid'))) break;
        expect(tries, `the erasure reaches x's quota count: ${activity.join(' | ')}`).toBeLessThan(300);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      // committed after the erasure's snapshot: its first try fails to serialize
      await writer.query('COMMIT');
      const res = await erased;
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json()).toMatchObject({ userId: 'x', deletedRecords: 1 });
    } finally {
      await writer.end();
    }
    const left = await t.db.query(
      `SELECT (SELECT count(*) FROM quota_usage WHERE workspace_id = $1)::int AS counts,
              (SELECT count(*) FROM usage_records WHERE workspace_id = $1)::int AS records`,
      [workspaceId],
    );
    expect(left).toEqual([{ counts: 0, records: 0 }]);
  });

  it('takes any user id ingest takes: 200 characters, slashes and non-ASCII, percent-encoded', async () => {
    const admin = t.token('boss', { role: 'admin', workspaceId: 'odd' });
    const userId = 'ü/@ '.repeat(50); // 200 characters, 1000 once percent-encoded
    await ingest(t, bearer(admin), [
      { requestId: 'odd-1', userId, provider: 'openai', model: 'gpt-4o', inputTokens: 1, outputTokens: 1 },
    ]);
    const res = await erase(t, userId, bearer(admin));
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ userId, deletedRecords: 1 });
  });

  it('is in the OpenAPI document', async () => {
    const doc = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json();
    const operation = doc.paths['/v1/admin/users/{userId}/usage'].delete;
    expect(operation).toMatchObject({ operationId: 'eraseUserUsage', tags: ['usage'] });
    expect(Object.keys(operation.responses).sort()).toEqual(['200', '400', '401', '403', '429']);
  });
});
