import fc from 'fast-check';
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

  it('stores metadata with a lone surrogate in a key or a value, as U+FFFD (jsonb refuses the escape)', async () => {
    const admin = bearer(t.token('root', { role: 'admin' }));
    const metadata = { ['k\udc00']: ['x\ud800y', { deep: '\udbff', fine: '😀' }], n: 2 };
    await ingest(t, admin, [usageRecord({ requestId: 'enc-lone', metadata })], { expectAccepted: true });
    const [row] = (await t.db.query(`SELECT metadata FROM usage_records WHERE request_id = 'enc-lone'`)) as Array<{
      metadata: unknown;
    }>;
    expect(row!.metadata).toEqual({ ['k\ufffd']: ['x\ufffdy', { deep: '\ufffd', fine: '😀' }], n: 2 });
  });

  it('stores a cost sent as a JSON number with the digits written, even those a double drops', async () => {
    const admin = bearer(t.token('root', { role: 'admin' }));
    const record = (requestId: string, cost: string): string =>
      JSON.stringify(usageRecord({ requestId, cost: 0 })).replace('"cost":0', `"cost":${cost}`);
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/usage/records',
      headers: { ...admin, 'content-type': 'application/json' },
      payload: `{"records":[${record('enc-num-1', '0.30000000000000001')},${record('enc-num-2', '12345678.1234567891')},${record('enc-num-3', '2.5e-7')}]}`,
    });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toEqual({ accepted: 3, duplicates: 0, rejected: [] });
    const rows = (await t.db.query(
      `SELECT request_id, cost::text AS cost, cost_status FROM usage_records WHERE request_id LIKE 'enc-num-%' ORDER BY request_id`,
    )) as Array<Record<string, unknown>>;
    expect(rows).toEqual([
      { request_id: 'enc-num-1', cost: '0.30000000000000001', cost_status: 'provided' },
      { request_id: 'enc-num-2', cost: '12345678.1234567891', cost_status: 'provided' },
      { request_id: 'enc-num-3', cost: '0.00000025', cost_status: 'provided' },
    ]);
  });

  it('keeps any text exactly, whatever tabs, line breaks and backslashes it holds (property)', async () => {
    const admin = bearer(t.token('root', { role: 'admin' }));
    // the batch goes to PostgreSQL as tab-separated lines with `\`-escapes: these pieces are what
    // could break it, mixed with any other character but NUL (which requests may not carry)
    const piece = fc.oneof(
      fc.constantFrom('\\', '\t', '\n', '\\N', 'N', '\\e', 'e', '\\t', 't', '\\n', 'n', '\r', ' ', '"', '\\\\'),
      fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }).filter((c) => c !== '\u0000'),
    );
    const text = fc.array(piece, { minLength: 1, maxLength: 12 }).map((pieces) => pieces.join('').slice(0, 150));
    const texts = fc.record({ userId: text, error: text, tag: text });
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(texts, { minLength: 1, maxLength: 4 }), async (fields) => {
        run += 1;
        const records = fields.map((f, i) =>
          usageRecord({
            requestId: `prop-${run}-${i}-${f.tag}`,
            userId: f.userId,
            error: f.error,
            success: false,
            metadata: { tag: f.tag },
          }),
        );
        await ingest(t, admin, records, { expectAccepted: true, fold: false });
        const rows = (await t.db.query(
          `SELECT request_id, user_id, error, metadata FROM usage_records WHERE request_id LIKE $1 ORDER BY request_id`,
          [`prop-${run}-%`],
        )) as Array<Record<string, unknown>>;
        const wellFormed = (s: string) => (s as string & { toWellFormed(): string }).toWellFormed();
        expect(rows).toEqual(
          records
            .map((r) => ({
              request_id: wellFormed(r.requestId),
              user_id: wellFormed(r.userId),
              error: wellFormed(r.error),
              metadata: { tag: wellFormed(r.metadata.tag) },
            }))
            .sort((a, b) => (a.request_id < b.request_id ? -1 : a.request_id > b.request_id ? 1 : 0)),
        );
      }),
      {
        numRuns: 60,
        examples: [[[{ userId: '\\N', error: '\\e\t\\t\n\\n\\', tag: '\\\\N' }]]],
      },
    );
  });
});
