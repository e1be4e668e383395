import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gatedChatCall, startFakeUpstream, type FakeUpstream } from '../support/fake-upstream';
import { bearer, createTestApp, type TestApp } from '../support/test-app';

/**
 * Closing the service (Ctrl-C, SIGTERM) while a client's keep-alive connection carries a
 * streamed call through the proxy: the stream ends whole, its usage is recorded, and the
 * service is closed soon after, not when the client lets the connection go (fastify announces
 * 72 s of keep-alive, which clients honour).
 */
let fake: FakeUpstream;
let t: TestApp;
let base: string;
let key: string;
const client = new Agent({ keepAliveTimeout: 600_000, keepAliveMaxTimeout: 600_000 });

beforeAll(async () => {
  fake = await startFakeUpstream();
  t = await createTestApp({ proxy: { openaiUpstreamUrl: `${fake.url}/v1`, anthropicUpstreamUrl: fake.url } });
  await t.app.listen({ port: 0, host: '127.0.0.1' });
  base = `http://127.0.0.1:${(t.app.server.address() as { port: number }).port}`;
  const created = await t.app.inject({
    method: 'POST',
    url: '/v1/admin/api-keys',
    headers: bearer(t.token('root', { role: 'admin' })),
    payload: { name: 'close' },
  });
  key = (created.json() as { key: string }).key;
});
afterAll(async () => {
  await t.close();
  await fake.close();
  await client.close();
});

describe('closing the service during a streamed call', () => {
  it('finishes the stream, records it, and closes once the connection is idle', async () => {
    const response = await request(`${base}/proxy/openai/v1/chat/completions`, {
      method: 'POST',
      dispatcher: client,
      ...gatedChatCall(key, 'closing'),
    });
    const chunks = response.body[Symbol.asyncIterator]();
    const first = await chunks.next();
    expect(Buffer.from(first.value as Buffer).toString()).toContain('"role":"assistant"');

    const started = performance.now();
    const closed = t.app.close();
    fake.openGate();
    let rest = '';
    for (let part = await chunks.next(); !part.done; part = await chunks.next())
      rest += Buffer.from(part.value as Buffer).toString();
    expect(rest).toContain('data: [DONE]');
    await closed;
    expect(performance.now() - started).toBeLessThan(5_000);

    const [record] = (await t.db.query(
      `SELECT token_source, success FROM usage_records WHERE user_id = 'closing'`,
    )) as Array<{
      token_source: string;
      success: boolean;
    }>;
    expect(record).toEqual({ token_source: 'reported', success: true });
  }, 20_000);
});
