import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingest, usageRecord } from '../support/records';
import { bearer, createTestApp, type TestApp } from '../support/test-app';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => t.close());

describe('a batch as stored', () => {
  it('keeps exact costs, JSON metadata and any text; a lone surrogate is stored as U+FFFD, as UTF-8 carries it', async () => {
    const admin = bearer(t.token('root', { role: 'admin' }));
    await ingest(
      t,
      admin,
      [
        usageRecord({
          requestId: 'enc-1',
          userId: 'zoë \ud800 "quoted" \\ back',
          cost: '0.000000000001',
          metadata: { feature: 'naïve', nested: { n: 1.5, list: [1, 'two', null] } },
        }),
        usageRecord({ requestId: 'enc-2', userId: 'plain', operation: 'Chat ', error: 'boom', success: false }),
      ],
      { expectAccepted: true },
    );
    const rows = (await t.db.query(
      `SELECT request_id, user_id, operation, error, cost::text AS cost, metadata FROM usage_records
       WHERE request_id LIKE 'enc-%' ORDER BY request_id`,
    )) as Array<Record<string, unknown>>;
    expect(rows).toEqual([
      {
        request_id: 'enc-1',
        user_id: 'zoë \ufffd "quoted" \\ back',
        operation: null,
        error: null,
        cost: '0.000000000001',
        metadata: { feature: 'naïve', nested: { n: 1.5, list: [1, 'two', null] } },
      },
      {
        request_id: 'enc-2',
        user_id: 'plain',
        operation: 'chat',
        error: 'boom',
        cost: expect.anything(),
        metadata: null,
      },
    ]);
  });
});
