import 'reflect-metadata';
import OpenAI from 'openai';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { INGEST_STATEMENT_MARK } from '../../src/infrastructure/persistence/pg-usage-repository';
import { startFakeUpstream, type FakeUpstream } from '../support/fake-upstream';
import { waitUntil } from '../support/outage-checks';
import { usageRecords } from '../support/records';
import { bearer, createTestApp, type TestApp } from '../support/test-app';

/**
 * A proxied call's record has no client to retry it: the client got its answer and sends no
 * record. When the service cannot store it at once (here: its one ingest slot is held by a
 * batch that waits on a lock, and the record's wait for the slot runs out), the proxy stores
 * it again a little later instead of dropping it.
 */

let t: TestApp;
let fake: FakeUpstream;
let base: string;
let key: string;
let admin: Record<string, string>;

beforeAll(async () => {
  fake = await startFakeUpstream();
  t = await createTestApp({
    proxy: { openaiUpstreamUrl: `${fake.url}/v1`, anthropicUpstreamUrl: fake.url },
    ingest: { statements: 1, maxWaitMs: 200 },
  });
  await t.app.listen({ port: 0, host: '127.0.0.1' });
  base = `http://127.0.0.1:${(t.app.server.address() as { port: number }).port}`;
  admin = bearer(t.token('root', { role: 'admin' }));
  const created = await t.app.inject({
    method: 'POST',
    url: '/v1/admin/api-keys',
    headers: admin,
    payload: { name: 'proxy' },
  });
  key = (created.json() as { key: string }).key;
  const plan = await t.app.inject({
    method: 'POST',
    url: '/v1/admin/plans',
    headers: admin,
    payload: { name: 'unlimited', monthlyTokenLimit: null, isDefault: true },
  });
  expect(plan.statusCode, plan.body).toBe(201);
});
afterAll(async () => {
  await t.close();
  await fake.close();
});

it('stores the record of a proxied call that could not be stored at first', async () => {
  const connect = async () => {
    const client = new pg.Client({ connectionString: t.databaseUrl });
    await client.connect();
    return client;
  };
  const holder = await connect();
  const observer = await connect();
  try {
    await holder.query('BEGIN');
    await holder.query('LOCK TABLE usage_request_ids IN SHARE MODE');
    // an ordinary batch takes the one slot and waits on the lock
    const batch = t.app.inject({
      method: 'POST',
      url: '/v1/usage/records',
      headers: admin,
      payload: { records: usageRecords(2, (i) => ({ requestId: `waiting-${i}`, userId: 'bob' })) },
    });
    await waitUntil(
      10_000,
      async () =>
        (
          await observer.query(
            `SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND starts_with(query, $1)`,
            [INGEST_STATEMENT_MARK],
          )
        ).rows.length === 1,
      20,
    );

    const openai = new OpenAI({
      apiKey: 'sk-provider',
      baseURL: `${base}/proxy/openai/v1`,
      defaultHeaders: { 'X-Tokentally-Key': key, 'X-Tokentally-User': 'alice' },
      maxRetries: 0,
    });
    const completion = await openai.chat.completions.create({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'Say hello' }],
    });
    // the record's first attempts time out waiting for the slot
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    await holder.query('COMMIT');
    expect((await batch).json()).toEqual({ accepted: 2, duplicates: 0, rejected: [] });

    await waitUntil(
      15_000,
      async () =>
        (await observer.query('SELECT 1 FROM usage_records WHERE request_id = $1', [completion.id])).rows.length === 1,
      50,
    );
    const { rows } = await observer.query<{ user_id: string; n: number }>(
      'SELECT user_id, count(*)::int AS n FROM usage_records GROUP BY user_id ORDER BY user_id',
    );
    expect(rows).toEqual([
      { user_id: 'alice', n: 1 },
      { user_id: 'bob', n: 2 },
    ]);
  } finally {
    await holder.end();
    await observer.end();
  }
});
