import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingest, usageRecord } from '../support/records';
import { bearer, createTestApp, type TestApp } from '../support/test-app';

describe('tokenSource of a usage record', () => {
  let t: TestApp;
  let admin: Record<string, string>;

  beforeAll(async () => {
    t = await createTestApp();
    admin = bearer(t.token('root', { role: 'admin' }));
  });
  afterAll(() => t.close());

  it('is stored as sent, reported by default, shown where records are listed, and only one of the two values', async () => {
    const reply = await ingest(t, admin, [
      usageRecord({ requestId: 'ts-estimated', userId: 'ann', tokenSource: 'estimated' }),
      usageRecord({ requestId: 'ts-reported', userId: 'ann', tokenSource: 'reported' }),
      usageRecord({ requestId: 'ts-default', userId: 'ann' }),
      usageRecord({ requestId: 'ts-bad', userId: 'ann', tokenSource: 'guessed' }),
    ]);
    expect(reply.accepted).toBe(3);
    expect(reply.rejected).toEqual([
      { index: 3, requestId: 'ts-bad', errors: [expect.objectContaining({ path: '/tokenSource' })] },
    ]);

    const stored = (await t.db.query(
      `SELECT request_id, token_source FROM usage_records WHERE workspace_id = 'default' ORDER BY request_id`,
    )) as Array<{ request_id: string; token_source: string }>;
    expect(stored).toEqual([
      { request_id: 'ts-default', token_source: 'reported' },
      { request_id: 'ts-estimated', token_source: 'estimated' },
      { request_id: 'ts-reported', token_source: 'reported' },
    ]);

    const res = await t.app.inject({ method: 'GET', url: '/v1/admin/usage/activity?userId=ann', headers: admin });
    expect(res.statusCode, res.body).toBe(200);
    const items = (res.json() as { items: Array<{ requestId: string; tokenSource: string }> }).items;
    expect(Object.fromEntries(items.map((r) => [r.requestId, r.tokenSource]))).toEqual({
      'ts-default': 'reported',
      'ts-estimated': 'estimated',
      'ts-reported': 'reported',
    });
  });
});
