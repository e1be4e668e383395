import 'reflect-metadata';
import OpenAI from 'openai';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startFakeUpstream, type FakeUpstream } from '../support/fake-upstream';
import { createApiKey } from '../support/otel';
import { waitUntil } from '../support/outage-checks';
import { planFor } from '../support/quotas';
import { usageRecords } from '../support/records';
import { holdIngest } from '../support/row-locks';
import { bearer, createTestApp, type TestApp } from '../support/test-app';

/**
 * A proxied call's record has no client to retry it: the client got its answer and sends no
 * record. When the service cannot store it at once (here: its one ingest slot is held by a
 * batch that waits on a lock, and the record's wait for the slot runs out), the proxy stores
 * it again a little later instead of dropping it.
 */

let t: TestApp;
let fake: FakeUpstream;

beforeAll(async () => {
  fake = await startFakeUpstream();
  t = await createTestApp({
    proxy: { openaiUpstreamUrl: `${fake.url}/v1`, anthropicUpstreamUrl: fake.url },
    ingest: { statements: 1, maxWaitMs: 200 },
  });
  await t.app.listen({ port: 0, host: '127.0.0.1' });
});
afterAll(async () => {
  await t.close();
  await fake.close();
});

it('stores the record of a proxied call that could not be stored at first', async () => {
  const admin = bearer(t.token('root', { role: 'admin' }));
  // no limits: the call goes out without a reservation
  await planFor(t, admin, ['alice'], { monthlyTokenLimit: null });
  const openai = new OpenAI({
    apiKey: 'sk-provider',
    baseURL: `http://127.0.0.1:${(t.app.server.address() as { port: number }).port}/proxy/openai/v1`,
    defaultHeaders: { 'X-Tokentally-Key': await createApiKey(t), 'X-Tokentally-User': 'alice' },
    maxRetries: 0,
  });

  const held = await holdIngest(t.databaseUrl);
  try {
    // an ordinary batch takes the one slot and waits on the lock
    const batch = t.app.inject({
      method: 'POST',
      url: '/v1/usage/records',
      headers: admin,
      payload: { records: usageRecords(2, (i) => ({ requestId: `waiting-${i}`, userId: 'bob' })) },
    });
    await held.untilStatements(1);

    const completion = await openai.chat.completions.create({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'Say hello' }],
    });
    // the record's first attempts time out waiting for the slot
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    await held.release();
    expect((await batch).json()).toEqual({ accepted: 2, duplicates: 0, rejected: [] });

    const stored = async (requestId: string) =>
      (await held.observer.query('SELECT 1 FROM usage_records WHERE request_id = $1', [requestId])).rows.length;
    await waitUntil(15_000, async () => (await stored(completion.id)) === 1, 50);
    const { rows } = await held.observer.query<{ user_id: string; n: number }>(
      'SELECT user_id, count(*)::int AS n FROM usage_records GROUP BY user_id ORDER BY user_id',
    );
    expect(rows).toEqual([
      { user_id: 'alice', n: 1 },
      { user_id: 'bob', n: 2 },
    ]);
  } finally {
    await held.close();
  }
});
