import { request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingest, usageRecord } from '../support/records';
import { bearer, createTestApp, type TestApp } from '../support/test-app';

/**
 * A client that leaves an export ends its query: on a real socket, whether it leaves while
 * rows are flowing (the server is held back by the client not reading) or while the query
 * still waits for its first row.
 */
const now = new Date('2026-11-20T12:00:00Z');
/** ~19 MB of CSV: far more than the socket buffers between the server and a client that stops reading */
const ROWS = 100_000;
let t: TestApp;
let base: string;
let admin: Record<string, string>;

/** The export's statement, as pg_stat_activity shows it, on any backend but the asking one. */
const EXPORT_BACKENDS = `SELECT pid, state, wait_event_type FROM pg_stat_activity
  WHERE pid <> pg_backend_pid() AND query LIKE 'SELECT to_char(occurred_at%FROM usage_records%ORDER BY occurred_at, request_id'`;

const exportBackends = async (): Promise<Array<{ pid: number; state: string; wait_event_type: string | null }>> =>
  (await t.db.query(EXPORT_BACKENDS)) as Array<{ pid: number; state: string; wait_event_type: string | null }>;

function startExport(query: string): { req: ClientRequest; response: Promise<IncomingMessage> } {
  const req = httpRequest(`${base}/v1/admin/usage/export?${query}`, { headers: admin });
  const response = new Promise<IncomingMessage>((resolve, reject) => {
    req.on('response', resolve);
    req.on('error', reject);
  });
  req.end();
  return { req, response };
}

beforeAll(async () => {
  t = await createTestApp({ clock: { now: () => now } });
  admin = bearer(t.token('root', { role: 'admin' }));
  // one record through the API creates November's partition; the bulk goes in by SQL
  await ingest(t, admin, [usageRecord({ requestId: 'first', occurredAt: '2026-11-05T00:00:00Z' })], {
    expectAccepted: true,
  });
  await t.db.query(
    `INSERT INTO usage_records (workspace_id, occurred_at, request_id, user_id, provider, model,
       input_tokens, output_tokens, total_tokens, success, cost_status)
     SELECT 'default', timestamptz '2026-11-05' + g * interval '1 second', 'bulk-' || g, 'user-' || (g % 100),
       'openai', 'gpt-4o', 10, 5, 15, true, 'unpriced'
     FROM generate_series(1, ${ROWS}) g`,
  );
  await t.app.listen({ port: 0, host: '127.0.0.1' });
  base = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
});
afterAll(async () => t.close());

const NOVEMBER = 'from=2026-11-01T00:00:00Z&to=2026-12-01T00:00:00Z';

describe('usage export: a client that leaves', () => {
  it('ends the query when the client stops reading and closes the connection mid-stream', async () => {
    const { req, response } = startExport(NOVEMBER);
    const res = await response;
    expect(res.statusCode).toBe(200);
    // one chunk, then no more reading: the server is held back by the socket's buffers
    await new Promise<void>((resolve) => res.once('data', () => resolve()));
    res.pause();
    await expect.poll(exportBackends, { timeout: 5_000 }).toHaveLength(1);
    req.destroy();
    await expect.poll(exportBackends, { timeout: 5_000, interval: 50 }).toEqual([]);
  });

  it('cancels a query still waiting for its first row (here: for a lock)', async () => {
    const locker = t.db.createQueryRunner();
    await locker.connect();
    try {
      await locker.startTransaction();
      await locker.query('LOCK TABLE usage_records IN ACCESS EXCLUSIVE MODE');
      const { req, response } = startExport(NOVEMBER);
      response.catch(() => undefined);
      // the query runs and waits; closing its socket alone would not stop it
      await expect
        .poll(exportBackends, { timeout: 5_000 })
        .toEqual([expect.objectContaining({ state: 'active', wait_event_type: 'Lock' })]);
      req.destroy();
      await expect.poll(exportBackends, { timeout: 5_000, interval: 50 }).toEqual([]);
    } finally {
      await locker.rollbackTransaction().catch(() => undefined);
      await locker.release();
    }
  });

  it('leaves the pool working: a full export afterwards has every row', async () => {
    const res = await fetch(`${base}/v1/admin/usage/export?${NOVEMBER}&format=ndjson`, { headers: admin });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text.split('\n').filter((line) => line !== '')).toHaveLength(ROWS + 1);
  }, 60_000);
});
