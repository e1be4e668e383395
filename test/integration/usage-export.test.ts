import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dropPartitionsBefore } from '../../src/infrastructure/persistence/partitions';
import { ingest, usageRecord } from '../support/records';
import { bearer, createTestApp, type TestApp } from '../support/test-app';

/**
 * GET /v1/admin/usage/export on a known dataset: every cell of CSV parsed back and of NDJSON
 * lines, records and days (in two zones, past raw retention), cloud mode, isolation, access,
 * validation and headers. Disconnects are in usage-export-disconnect.test.ts.
 */
const now = new Date('2026-11-20T12:00:00Z');
let t: TestApp;
let admin: Record<string, string>;

const NOVEMBER = 'from=2026-11-01T00:00:00Z&to=2026-12-01T00:00:00Z';

// Berlin is UTC+1 in November: 22:30Z is still the 3rd there, 23:30Z already the 4th
const RECORDS = [
  usageRecord({
    requestId: 'exp-1',
    occurredAt: '2026-11-03T09:15:00Z',
    userId: 'alice',
    provider: 'openai',
    model: 'gpt-4o',
    inputTokens: 1000,
    cachedInputTokens: 100,
    outputTokens: 200,
    durationMs: 850,
    cost: '0.0125',
  }),
  usageRecord({
    requestId: 'exp-2',
    occurredAt: '2026-11-03T22:30:00Z',
    userId: '=HYPERLINK("http://evil.example")',
    provider: 'anthropic',
    model: 'claude-sonnet-4',
    operation: 'chat',
    inputTokens: 500,
    cacheWriteTokens: 20,
    cacheWrite1hTokens: 8,
    outputTokens: 50,
    durationMs: 400,
    cost: '0.00200',
  }),
  usageRecord({
    requestId: 'exp-3',
    occurredAt: '2026-11-03T23:30:00Z',
    userId: 'bob',
    provider: 'openai',
    model: 'gpt-4o',
    inputTokens: 300,
    outputTokens: 30,
    success: false,
    error: 'rate limited, "retry"\nlater',
    cost: '0',
  }),
  usageRecord({
    requestId: 'exp-4',
    occurredAt: '2026-11-04T08:00:00Z',
    userId: 'alice',
    provider: 'acme',
    model: 'tally-unknown',
    operation: '+sum',
    inputTokens: 10,
    outputTokens: 5,
    tokenSource: 'estimated',
  }),
  usageRecord({
    requestId: 'exp-5',
    occurredAt: '2026-11-10T00:00:00Z',
    userId: '-bob',
    provider: 'openai',
    model: 'gpt-4o',
    inputTokens: 40,
    outputTokens: 100,
    reasoningTokens: 60,
    durationMs: 1200,
    cost: '1.5',
  }),
];

const RECORD_HEADER = [
  'occurredAt',
  'requestId',
  'userId',
  'provider',
  'model',
  'operation',
  'inputTokens',
  'outputTokens',
  'cachedInputTokens',
  'cacheWriteTokens',
  'cacheWrite1hTokens',
  'reasoningTokens',
  'totalTokens',
  'tokenSource',
  'durationMs',
  'success',
  'error',
  'cost',
  'costStatus',
];

/** The dataset as CSV cells: formula-like text behind an apostrophe, booleans as words, nulls empty. */
const RECORD_ROWS = [
  [
    '2026-11-03T09:15:00.000Z',
    'exp-1',
    'alice',
    'openai',
    'gpt-4o',
    '',
    '1000',
    '200',
    '100',
    '0',
    '0',
    '0',
    '1200',
    'reported',
    '850',
    'true',
    '',
    '0.0125',
    'provided',
  ],
  [
    '2026-11-03T22:30:00.000Z',
    'exp-2',
    `'=HYPERLINK("http://evil.example")`,
    'anthropic',
    'claude-sonnet-4',
    'chat',
    '500',
    '50',
    '0',
    '20',
    '8',
    '0',
    '550',
    'reported',
    '400',
    'true',
    '',
    '0.002',
    'provided',
  ],
  [
    '2026-11-03T23:30:00.000Z',
    'exp-3',
    'bob',
    'openai',
    'gpt-4o',
    '',
    '300',
    '30',
    '0',
    '0',
    '0',
    '0',
    '330',
    'reported',
    '',
    'false',
    'rate limited, "retry"\nlater',
    '0',
    'provided',
  ],
  [
    '2026-11-04T08:00:00.000Z',
    'exp-4',
    'alice',
    'acme',
    'tally-unknown',
    `'+sum`,
    '10',
    '5',
    '0',
    '0',
    '0',
    '0',
    '15',
    'estimated',
    '',
    'true',
    '',
    '',
    'unpriced',
  ],
  [
    '2026-11-10T00:00:00.000Z',
    'exp-5',
    `'-bob`,
    'openai',
    'gpt-4o',
    '',
    '40',
    '100',
    '0',
    '0',
    '0',
    '60',
    '140',
    'reported',
    '1200',
    'true',
    '',
    '1.5',
    'provided',
  ],
];

async function exportOf(query: string, headers = admin) {
  return t.app.inject({ method: 'GET', url: `/v1/admin/usage/export?${query}`, headers });
}

const csv = (body: string): string[][] => parse(body, { relax_column_count: false }) as string[][];
const ndjson = (body: string): Array<Record<string, unknown>> =>
  body
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);

beforeAll(async () => {
  t = await createTestApp({ clock: { now: () => now } });
  admin = bearer(t.token('root', { role: 'admin' }));
  await ingest(t, admin, RECORDS, { expectAccepted: true });
  const other = bearer(t.token('root', { role: 'admin', workspaceId: 'other' }));
  await ingest(t, other, [usageRecord({ requestId: 'exp-1', occurredAt: '2026-11-03T09:30:00Z', userId: 'mallory' })], {
    expectAccepted: true,
  });
});
afterAll(async () => t.close());

describe('usage export: records', () => {
  it('streams every record of the range as CSV, oldest first, each cell as sent', async () => {
    const res = await exportOf(NOVEMBER);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.headers['content-type']).toBe('text/csv; charset=utf-8; header=present');
    expect(res.headers['content-disposition']).toBe(
      'attachment; filename="tokentally-usage-records-20261101T000000Z-20261201T000000Z.csv"',
    );
    // RFC 4180 line ends, quoted fields where a comma, quote or line break is inside
    expect(res.body.startsWith(`${RECORD_HEADER.join(',')}\r\n`)).toBe(true);
    expect(res.body).toContain(`"rate limited, ""retry""\nlater"`);
    expect(csv(res.body)).toEqual([RECORD_HEADER, ...RECORD_ROWS]);
  });

  it('streams the same records as NDJSON: numbers as numbers, cost as a decimal string, null for empty', async () => {
    const res = await exportOf(`${NOVEMBER}&format=ndjson`);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.headers['content-type']).toBe('application/x-ndjson; charset=utf-8');
    expect(res.headers['content-disposition']).toContain('.ndjson"');
    const lines = ndjson(res.body);
    expect(lines.map((line) => Object.keys(line))).toEqual(lines.map(() => RECORD_HEADER));
    expect(lines[0]).toEqual({
      occurredAt: '2026-11-03T09:15:00.000Z',
      requestId: 'exp-1',
      userId: 'alice',
      provider: 'openai',
      model: 'gpt-4o',
      operation: null,
      inputTokens: 1000,
      outputTokens: 200,
      cachedInputTokens: 100,
      cacheWriteTokens: 0,
      cacheWrite1hTokens: 0,
      reasoningTokens: 0,
      totalTokens: 1200,
      tokenSource: 'reported',
      durationMs: 850,
      success: true,
      error: null,
      cost: '0.0125',
      costStatus: 'provided',
    });
    // text is exported as it was sent: only CSV guards spreadsheets
    expect(lines.map((line) => line.userId)).toEqual([
      'alice',
      '=HYPERLINK("http://evil.example")',
      'bob',
      'alice',
      '-bob',
    ]);
    expect(lines[2]).toMatchObject({ success: false, error: 'rate limited, "retry"\nlater', durationMs: null });
    expect(lines[3]).toMatchObject({ cost: null, costStatus: 'unpriced', operation: '+sum' });
  });

  it('narrows by range, provider, model and user', async () => {
    const rows = async (query: string) => csv((await exportOf(query)).body).map((row) => row[1]);
    expect(await rows('from=2026-11-03T22:30:00Z&to=2026-11-04T08:00:00Z')).toEqual(['requestId', 'exp-2', 'exp-3']);
    expect(await rows(`${NOVEMBER}&provider=OpenAI`)).toEqual(['requestId', 'exp-1', 'exp-3', 'exp-5']);
    expect(await rows(`${NOVEMBER}&model=tally-unknown`)).toEqual(['requestId', 'exp-4']);
    expect(await rows(`${NOVEMBER}&userId=alice`)).toEqual(['requestId', 'exp-1', 'exp-4']);
    expect(await rows(`${NOVEMBER}&userId=alice&provider=openai&model=gpt-4o`)).toEqual(['requestId', 'exp-1']);
  });

  it('answers an empty range with the header alone (CSV) or nothing (NDJSON)', async () => {
    const empty = 'from=2026-10-01T00:00:00Z&to=2026-10-02T00:00:00Z';
    const asCsv = await exportOf(empty);
    expect(asCsv.statusCode).toBe(200);
    expect(asCsv.body).toBe(`${RECORD_HEADER.join(',')}\r\n`);
    const asNdjson = await exportOf(`${empty}&format=ndjson`);
    expect(asNdjson.statusCode).toBe(200);
    expect(asNdjson.body).toBe('');
  });
});

const DAY_HEADER = [
  'day',
  'dayStart',
  'userId',
  'provider',
  'model',
  'requests',
  'errors',
  'inputTokens',
  'outputTokens',
  'cachedInputTokens',
  'cacheWriteTokens',
  'cacheWrite1hTokens',
  'reasoningTokens',
  'totalTokens',
  'durationMsSum',
  'durationCount',
  'cost',
  'unpricedRequests',
];

describe('usage export: days', () => {
  it('sums per UTC day, user, provider and model by default', async () => {
    const res = await exportOf(`${NOVEMBER}&level=day`);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.headers['content-disposition']).toBe(
      'attachment; filename="tokentally-usage-days-20261101T000000Z-20261201T000000Z.csv"',
    );
    expect(csv(res.body)).toEqual([
      DAY_HEADER,
      // users in byte order: '=' before lower-case letters
      [
        '2026-11-03',
        '2026-11-03T00:00:00.000Z',
        `'=HYPERLINK("http://evil.example")`,
        'anthropic',
        'claude-sonnet-4',
        '1',
        '0',
        '500',
        '50',
        '0',
        '20',
        '8',
        '0',
        '550',
        '400',
        '1',
        '0.002',
        '0',
      ],
      ['2026-11-03', '2026-11-03T00:00:00.000Z', 'alice', 'openai', 'gpt-4o'].concat([
        '1',
        '0',
        '1000',
        '200',
        '100',
        '0',
        '0',
        '0',
        '1200',
        '850',
        '1',
        '0.0125',
        '0',
      ]),
      ['2026-11-03', '2026-11-03T00:00:00.000Z', 'bob', 'openai', 'gpt-4o'].concat([
        '1',
        '1',
        '300',
        '30',
        '0',
        '0',
        '0',
        '0',
        '330',
        '0',
        '0',
        '0',
        '0',
      ]),
      ['2026-11-04', '2026-11-04T00:00:00.000Z', 'alice', 'acme', 'tally-unknown'].concat([
        '1',
        '0',
        '10',
        '5',
        '0',
        '0',
        '0',
        '0',
        '15',
        '0',
        '0',
        '0',
        '1',
      ]),
      ['2026-11-10', '2026-11-10T00:00:00.000Z', `'-bob`, 'openai', 'gpt-4o'].concat([
        '1',
        '0',
        '40',
        '100',
        '0',
        '0',
        '0',
        '60',
        '140',
        '1200',
        '1',
        '1.5',
        '0',
      ]),
    ]);
  });

  it('cuts days at local midnight in tz: Berlin moves the 23:30Z call to the 4th', async () => {
    const res = await exportOf(`${NOVEMBER}&level=day&tz=Europe/Berlin&format=ndjson`);
    expect(res.statusCode, res.body).toBe(200);
    const lines = ndjson(res.body);
    expect(lines.map((l) => [l.day, l.dayStart, l.userId, l.requests, l.totalTokens, l.cost])).toEqual([
      ['2026-11-03', '2026-11-02T23:00:00.000Z', '=HYPERLINK("http://evil.example")', 1, 550, '0.002'],
      ['2026-11-03', '2026-11-02T23:00:00.000Z', 'alice', 1, 1200, '0.0125'],
      ['2026-11-04', '2026-11-03T23:00:00.000Z', 'alice', 1, 15, '0'],
      ['2026-11-04', '2026-11-03T23:00:00.000Z', 'bob', 1, 330, '0'],
      ['2026-11-10', '2026-11-09T23:00:00.000Z', '-bob', 1, 140, '1.5'],
    ]);
    expect(Object.keys(lines[0]!)).toEqual(DAY_HEADER);
  });

  it('counts usage the background fold has not moved into the rollups yet', async () => {
    await ingest(
      t,
      admin,
      [usageRecord({ requestId: 'exp-6', occurredAt: '2026-11-12T10:00:00Z', userId: 'carol', inputTokens: 7 })],
      { fold: false, expectAccepted: true },
    );
    const lines = ndjson((await exportOf(`${NOVEMBER}&level=day&format=ndjson&userId=carol`)).body);
    expect(lines).toEqual([
      expect.objectContaining({ day: '2026-11-12', userId: 'carol', requests: 1, inputTokens: 7 }),
    ]);
  });
});

describe('usage export: who sees what', () => {
  it('never shows another workspace’s rows, and shows that workspace only its own', async () => {
    const mine = csv((await exportOf(NOVEMBER)).body);
    expect(mine.flat()).not.toContain('mallory');
    const other = bearer(t.token('root', { role: 'admin', workspaceId: 'other' }));
    const theirs = ndjson((await exportOf(`${NOVEMBER}&format=ndjson`, other)).body);
    expect(theirs.map((l) => [l.requestId, l.userId])).toEqual([['exp-1', 'mallory']]);
    const theirDays = ndjson((await exportOf(`${NOVEMBER}&format=ndjson&level=day`, other)).body);
    expect(theirDays.map((l) => [l.day, l.userId, l.requests])).toEqual([['2026-11-03', 'mallory', 1]]);
  });

  it('is for admins: a member gets 403, no credentials 401', async () => {
    const member = await exportOf(NOVEMBER, bearer(t.token('alice', { role: 'member' })));
    expect(member.statusCode).toBe(403);
    expect(member.json()).toMatchObject({ statusCode: 403 });
    const anonymous = await exportOf(NOVEMBER, {});
    expect(anonymous.statusCode).toBe(401);
    expect(anonymous.json()).toMatchObject({ statusCode: 401 });
  });

  it('exports no cost column in cloud mode', async () => {
    const cloud = await createTestApp({
      deploymentMode: 'cloud',
      databaseUrl: t.databaseUrl,
      clock: { now: () => now },
    });
    try {
      const get = (query: string) =>
        cloud.app.inject({ method: 'GET', url: `/v1/admin/usage/export?${query}`, headers: admin });
      const records = csv((await get(NOVEMBER)).body);
      expect(records[0]).toEqual(RECORD_HEADER.filter((c) => c !== 'cost' && c !== 'costStatus'));
      expect(records[1]).toEqual(RECORD_ROWS[0]!.slice(0, 17));
      const days = ndjson((await get(`${NOVEMBER}&level=day&format=ndjson`)).body);
      expect(Object.keys(days[0]!)).toEqual(DAY_HEADER.filter((c) => c !== 'cost' && c !== 'unpricedRequests'));
      expect(JSON.stringify(days)).not.toMatch(/cost|unpriced/i);
    } finally {
      await cloud.app.close();
      await cloud.db.destroy();
    }
  });
});

describe('usage export: validation', () => {
  it.each([
    ['format=xml', '/querystring/format'],
    ['level=week', '/querystring/level'],
    ['from=yesterday', '/querystring/from'],
    ['to=2026-13-01T00:00:00Z', '/querystring/to'],
    ['from=2026-11-02T00:00:00Z&to=2026-11-01T00:00:00Z', '/querystring/from'],
    ['from=2020-01-01T00:00:00Z&to=2026-11-01T00:00:00Z', '/querystring/from'],
    ['tz=Mars/Phobos', '/querystring/tz'],
    ['userId=', '/querystring/userId'],
  ])('%s → 400 naming %s', async (query, path) => {
    const res = await exportOf(query);
    expect(res.statusCode, res.body).toBe(400);
    expect(res.headers['content-type']).toContain('application/json');
    expect(res.json().details).toEqual(expect.arrayContaining([expect.objectContaining({ path })]));
  });
});

describe('usage export: past raw retention', () => {
  it('keeps exporting days from the rollups after the raw records are dropped', async () => {
    const before = (await exportOf(`${NOVEMBER}&level=day`)).body;
    expect(await dropPartitionsBefore(t.db, new Date('2026-12-01T00:00:00Z'))).toContain('usage_records_p202611');
    expect(csv((await exportOf(NOVEMBER)).body)).toEqual([RECORD_HEADER]);
    expect((await exportOf(`${NOVEMBER}&level=day`)).body).toBe(before);
  });
});
