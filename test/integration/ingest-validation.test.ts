import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { usageRecord, usageRecords } from '../support/records';
import { bearer, createTestApp, type TestApp } from '../support/test-app';

/** Partial rejection of bad records, and whole-request rejection of a bad envelope. */
let t: TestApp;
let admin: Record<string, string>;

beforeAll(async () => {
  t = await createTestApp({ maxBatchRecords: 5 });
  admin = bearer(t.token('root', { role: 'admin' }));
});
afterAll(async () => t.close());

/** Objects go out as JSON; a string goes out as it is, labelled as JSON. */
const post = (payload: unknown, headers: Record<string, string> = {}) =>
  typeof payload === 'string'
    ? t.app.inject({
        method: 'POST',
        url: '/v1/usage/records',
        headers: { ...admin, 'content-type': 'application/json', ...headers },
        payload,
      })
    : t.app.inject({
        method: 'POST',
        url: '/v1/usage/records',
        headers: { ...admin, ...headers },
        payload: payload as object,
      });

async function count(): Promise<{ records: number; ids: number; rollup: number }> {
  const [row] = (await t.db.query(
    `SELECT (SELECT count(*) FROM usage_records)::int AS records, (SELECT count(*) FROM usage_request_ids)::int AS ids,
            (SELECT coalesce(sum(requests), 0) FROM usage_hourly)::int AS rollup`,
  )) as Array<{ records: number; ids: number; rollup: number }>;
  return row!;
}

interface Rejected {
  index: number;
  requestId?: string;
  errors: Array<{ path: string; message: string }>;
}

/** Sends one bad record between two good ones; returns its rejection after checking the good ones were stored. */
async function rejectionOf(bad: unknown): Promise<Rejected> {
  const tag = `r${Math.random().toString(36).slice(2, 10)}`;
  const res = await post({
    records: [usageRecord({ requestId: `${tag}-a` }), bad, usageRecord({ requestId: `${tag}-b` })],
  });
  expect(res.statusCode, res.body).toBe(200);
  const body = res.json() as { accepted: number; duplicates: number; rejected: Rejected[] };
  expect(body.accepted).toBe(2);
  expect(body.duplicates).toBe(0);
  expect(body.rejected).toHaveLength(1);
  expect(body.rejected[0]!.index).toBe(1);
  const stored = (await t.db.query(`SELECT request_id FROM usage_records WHERE request_id LIKE $1 ORDER BY 1`, [
    `${tag}-%`,
  ])) as Array<{ request_id: string }>;
  expect(stored.map((r) => r.request_id)).toEqual([`${tag}-a`, `${tag}-b`]);
  for (const error of body.rejected[0]!.errors) expect(error.message.length).toBeGreaterThan(0);
  return body.rejected[0]!;
}

const paths = (rejected: Rejected) => rejected.errors.map((e) => e.path);

describe('partial rejection: valid records are stored, each bad one is reported', () => {
  it('rejects negative tokens at /inputTokens', async () => {
    const rejected = await rejectionOf(usageRecord({ requestId: 'neg', inputTokens: -1 }));
    expect(rejected.requestId).toBe('neg');
    expect(paths(rejected)).toEqual(['/inputTokens']);
  });

  it('rejects fractional and absurd token counts', async () => {
    expect(paths(await rejectionOf(usageRecord({ outputTokens: 1.5 })))).toEqual(['/outputTokens']);
    expect(paths(await rejectionOf(usageRecord({ outputTokens: 1e13 })))).toEqual(['/outputTokens']);
    expect(paths(await rejectionOf(usageRecord({ inputTokens: '100' })))).toEqual(['/inputTokens']);
  });

  it('rejects a missing model at /model, and a blank one', async () => {
    const { model: _model, ...withoutModel } = usageRecord({ requestId: 'nomodel' });
    expect(await rejectionOf(withoutModel)).toEqual({
      index: 1,
      requestId: 'nomodel',
      errors: [{ path: '/model', message: expect.any(String) }],
    });
    expect(paths(await rejectionOf(usageRecord({ model: '   ' })))).toEqual(['/model']);
  });

  it('rejects a missing requestId without naming one', async () => {
    const { requestId: _id, ...withoutId } = usageRecord();
    const rejected = await rejectionOf(withoutId);
    expect(rejected.requestId).toBeUndefined();
    expect(paths(rejected)).toEqual(['/requestId']);
  });

  it('rejects an unknown field at its own path', async () => {
    expect(paths(await rejectionOf(usageRecord({ inputTokenz: 5 })))).toEqual(['/inputTokenz']);
  });

  it('rejects cachedInputTokens greater than inputTokens (they are part of it)', async () => {
    expect(await rejectionOf(usageRecord({ requestId: 'cached', inputTokens: 100, cachedInputTokens: 101 }))).toEqual({
      index: 1,
      requestId: 'cached',
      errors: [{ path: '/cachedInputTokens', message: expect.stringContaining('must not exceed inputTokens') }],
    });
    // cached + cache write together may not exceed the input either
    expect(
      paths(await rejectionOf(usageRecord({ inputTokens: 100, cachedInputTokens: 60, cacheWriteTokens: 41 }))),
    ).toEqual(['/cachedInputTokens']);
  });

  it('rejects reasoningTokens greater than outputTokens', async () => {
    expect(paths(await rejectionOf(usageRecord({ outputTokens: 50, reasoningTokens: 51 })))).toEqual([
      '/reasoningTokens',
    ]);
  });

  it('rejects a totalTokens that is not inputTokens + outputTokens', async () => {
    expect(
      await rejectionOf(usageRecord({ requestId: 'total', inputTokens: 100, outputTokens: 50, totalTokens: 149 })),
    ).toEqual({
      index: 1,
      requestId: 'total',
      errors: [{ path: '/totalTokens', message: 'totalTokens must equal inputTokens + outputTokens' }],
    });
  });

  it('reports every broken invariant of one record', async () => {
    const rejected = await rejectionOf(
      usageRecord({ inputTokens: 10, cachedInputTokens: 20, outputTokens: 5, reasoningTokens: 6, totalTokens: 1 }),
    );
    expect(paths(rejected)).toEqual(['/cachedInputTokens', '/reasoningTokens', '/totalTokens']);
  });

  it.each(['2026-06-01 10:00:00', '01/06/2026', '2026-06-01', '2026-13-01T00:00:00Z', 'yesterday', '1717236000000'])(
    'rejects occurredAt %j at /occurredAt',
    async (occurredAt) => {
      expect(paths(await rejectionOf(usageRecord({ occurredAt })))).toEqual(['/occurredAt']);
    },
  );

  it('rejects an occurredAt more than an hour in the future', async () => {
    const occurredAt = new Date(Date.now() + 2 * 3_600_000).toISOString();
    expect(paths(await rejectionOf(usageRecord({ occurredAt })))).toEqual(['/occurredAt']);
  });

  it('rejects metadata larger than 8 KB, and metadata that is not an object', async () => {
    const big = { note: 'x'.repeat(8200) };
    expect(await rejectionOf(usageRecord({ requestId: 'meta', metadata: big }))).toEqual({
      index: 1,
      requestId: 'meta',
      errors: [{ path: '/metadata', message: 'metadata must be at most 8192 bytes of JSON' }],
    });
    expect(paths(await rejectionOf(usageRecord({ metadata: ['a'] })))).toEqual(['/metadata']);
    expect(paths(await rejectionOf(usageRecord({ metadata: 'text' })))).toEqual(['/metadata']);
  });

  it('accepts metadata of exactly 8 KB', async () => {
    const note = 'x'.repeat(8192 - JSON.stringify({ note: '' }).length);
    expect(Buffer.byteLength(JSON.stringify({ note }))).toBe(8192);
    const res = await post({ records: [usageRecord({ metadata: { note } })] });
    expect(res.json()).toEqual({ accepted: 1, duplicates: 0, rejected: [] });
  });

  it.each([42, 'record', null, true, [usageRecord()]])('rejects the non-object item %j at /', async (item) => {
    const rejected = await rejectionOf(item);
    expect(rejected.requestId).toBeUndefined();
    expect(paths(rejected)).toEqual(['/']);
  });

  it('rejects a negative or malformed client cost at /cost', async () => {
    expect(paths(await rejectionOf(usageRecord({ cost: -0.01 })))).toEqual(['/cost']);
    expect(paths(await rejectionOf(usageRecord({ cost: '-0.01' })))).toEqual(['/cost']);
    expect(paths(await rejectionOf(usageRecord({ cost: '1e-5' })))).toEqual(['/cost']);
    expect(paths(await rejectionOf(usageRecord({ cost: 'free' })))).toEqual(['/cost']);
  });

  it('rejects over-long strings', async () => {
    expect(paths(await rejectionOf(usageRecord({ requestId: 'x'.repeat(201) })))).toEqual(['/requestId']);
    expect(paths(await rejectionOf(usageRecord({ model: 'm'.repeat(201) })))).toEqual(['/model']);
  });

  it('rejects a NUL character (which PostgreSQL text cannot hold) in the field that has it, not the whole batch', async () => {
    expect(await rejectionOf(usageRecord({ requestId: 'nul-meta', metadata: { note: 'a\u0000b' } }))).toEqual({
      index: 1,
      requestId: 'nul-meta',
      errors: [{ path: '/metadata', message: 'must not contain the NUL character (U+0000)' }],
    });
    expect(paths(await rejectionOf(usageRecord({ metadata: { deep: [{ 'k\u0000': 1 }] } })))).toEqual(['/metadata']);
    expect(paths(await rejectionOf(usageRecord({ error: 'boom\u0000' })))).toEqual(['/error']);
    expect(paths(await rejectionOf(usageRecord({ userId: 'u\u0000' })))).toEqual(['/userId']);
    expect(paths(await rejectionOf(usageRecord({ model: 'gpt-4o\u0000', operation: '\u0000' })))).toEqual([
      '/model',
      '/operation',
    ]);
    expect(paths(await rejectionOf(usageRecord({ requestId: 'nul\u0000id' })))).toEqual(['/requestId']);
    // a backslash followed by "u0000" is ordinary text
    const res = await post({ records: [usageRecord({ metadata: { note: '\\u0000' } })] });
    expect(res.json()).toEqual({ accepted: 1, duplicates: 0, rejected: [] });
  });

  it('lists several bad records of one batch with their indexes; the good ones are stored', async () => {
    const res = await post({
      records: [
        usageRecord({ requestId: 'mix-bad-0', inputTokens: -5 }),
        usageRecord({ requestId: 'mix-ok-1' }),
        'not a record',
        usageRecord({ requestId: 'mix-ok-3' }),
        usageRecord({ requestId: 'mix-bad-4', occurredAt: 'soon' }),
      ],
    });
    expect(res.statusCode).toBe(200);
    const body = res.json() as { accepted: number; duplicates: number; rejected: Rejected[] };
    expect(body.accepted).toBe(2);
    expect(body.rejected.map((r) => [r.index, r.requestId, paths(r)])).toEqual([
      [0, 'mix-bad-0', ['/inputTokens']],
      [2, undefined, ['/']],
      [4, 'mix-bad-4', ['/occurredAt']],
    ]);
  });

  it('answers 200 with everything rejected when no record is valid, and stores nothing', async () => {
    const before = await count();
    const res = await post({ records: [usageRecord({ inputTokens: -1 }), 7] });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ accepted: 0, duplicates: 0 });
    expect(res.json().rejected).toHaveLength(2);
    expect(await count()).toEqual(before);
  });
});

describe('a malformed envelope is a 400 and nothing is written', () => {
  const expectNothingWritten = async (payload: unknown, status = 400, headers: Record<string, string> = {}) => {
    const before = await count();
    const res = await post(payload, headers);
    expect(res.statusCode, res.body).toBe(status);
    const body = res.json() as { statusCode: number; code: string; message: string };
    expect(body.statusCode).toBe(status);
    expect(typeof body.code).toBe('string');
    expect(typeof body.message).toBe('string');
    expect(await count()).toEqual(before);
    return body;
  };

  it('rejects an empty records array', async () => {
    const body = await expectNothingWritten({ records: [] });
    expect(body).toMatchObject({ code: 'validation_failed', message: 'records must hold at least one record' });
  });

  it('rejects records that is not an array, or missing', async () => {
    await expectNothingWritten({ records: usageRecord() });
    await expectNothingWritten({ records: 'x' });
    await expectNothingWritten({});
    await expectNothingWritten([usageRecord()]);
  });

  it('rejects an unknown top-level field', async () => {
    await expectNothingWritten({ records: [usageRecord()], extra: true });
  });

  it('rejects more than MAX_BATCH_RECORDS records (5 here), even if all are valid', async () => {
    const records = usageRecords(6, () => ({}));
    const body = await expectNothingWritten({ records });
    expect(body.message).toBe('a batch holds at most 5 records, got 6');
    const ok = await post({ records: records.slice(0, 5) });
    expect(ok.json()).toEqual({ accepted: 5, duplicates: 0, rejected: [] });
  });

  it('rejects a body that is not JSON', async () => {
    const body = await expectNothingWritten('{"records": [', 400);
    expect(body.code).toBe('invalid_json');
    await expectNothingWritten('', 400);
  });

  it('refuses a "__proto__" key anywhere in the body at its place, valid records included', async () => {
    const body = await expectNothingWritten(
      `{"records":[${JSON.stringify(usageRecord())},{"usage":{"prompt_tokens":{"__proto__":false}}}]}`,
      400,
    );
    expect(body).toMatchObject({
      code: 'validation_failed',
      details: [{ path: '/records/1/usage/prompt_tokens/__proto__', message: 'a "__proto__" key is not accepted' }],
    });
  });

  it('rejects a body larger than the limit with 413', async () => {
    // the limit is 12 KB per allowed record: 60 KB here
    const records = [usageRecord({ metadata: { note: 'x'.repeat(70_000) } })];
    const body = await expectNothingWritten({ records }, 413);
    expect(body.code).toBe('payload_too_large');
  });
});
