import { connect } from 'node:net';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../support/test-app';

/**
 * Hostile ingest bodies over a real socket: every one gets an HTTP answer (never a reset, never
 * a hang), a 4xx in the one error shape unless the batch was fine, and nothing half-written.
 */
let t: TestApp;
let port: number;
let token: string;

const MAX_BATCH = 20;

interface RawAnswer {
  status: number;
  headers: string;
  body: string;
}

/** Writes the request bytes as given, reads until the server closes or the answer is complete. */
function exchange(head: string, body: Buffer | string, timeoutMs = 10_000): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    const settle = () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const match = /^HTTP\/1\.1 (\d{3})[^\r]*\r\n([\s\S]*?)\r\n\r\n([\s\S]*)$/.exec(text);
      if (!match) return false;
      const length = /content-length: (\d+)/i.exec(match[2]!);
      if (length && Buffer.byteLength(match[3]!) < Number(length[1])) return false;
      clearTimeout(timer);
      socket.destroy();
      resolve({ status: Number(match[1]), headers: match[2]!, body: match[3]! });
      return true;
    };
    socket.on('data', (chunk) => {
      chunks.push(chunk);
      settle();
    });
    socket.on('error', (error) => {
      // the answer may have arrived before the server stopped reading what we still sent
      if (!settle()) {
        clearTimeout(timer);
        reject(error);
      }
    });
    socket.on('close', () => {
      if (!settle()) {
        clearTimeout(timer);
        reject(new Error(`connection closed without an answer: ${Buffer.concat(chunks).toString().slice(0, 200)}`));
      }
    });
    socket.write(head);
    // a write error after the answer is the server declining the rest: settle() decides
    socket.write(body, () => undefined);
  });
}

function post(body: Buffer | string, headers: Record<string, string> = {}): Promise<RawAnswer> {
  const bytes = typeof body === 'string' ? Buffer.from(body) : body;
  const all: Record<string, string> = {
    host: 'localhost',
    authorization: `Bearer ${token}`,
    'content-type': 'application/json',
    'content-length': String(bytes.length),
    connection: 'close',
    ...headers,
  };
  const head = `POST /v1/usage/records HTTP/1.1\r\n${Object.entries(all)
    .map(([k, v]) => `${k}: ${v}`)
    .join('\r\n')}\r\n\r\n`;
  return exchange(head, bytes);
}

async function stored(): Promise<number> {
  const [row] = (await t.db.query('SELECT count(*)::int AS n FROM usage_records')) as Array<{ n: number }>;
  return row!.n;
}

function expectRefused(answer: RawAnswer, where: string) {
  expect(answer.status, `${where}: ${answer.status} ${answer.body.slice(0, 200)}`).toBeGreaterThanOrEqual(400);
  expect(answer.status, where).toBeLessThan(500);
  expect(JSON.parse(answer.body), where).toEqual(
    expect.objectContaining({ statusCode: answer.status, code: expect.any(String), message: expect.any(String) }),
  );
}

const record = (i: number, extra: Record<string, unknown> = {}) => ({
  requestId: `hostile-${i}`,
  userId: 'alice',
  provider: 'openai',
  model: 'gpt-4o',
  inputTokens: 10,
  outputTokens: 5,
  ...extra,
});

beforeAll(async () => {
  t = await createTestApp({ maxBatchRecords: MAX_BATCH, requestTimeoutMs: 2_000 });
  token = t.token('root', { role: 'admin' });
  await t.app.listen({ port: 0, host: '127.0.0.1' });
  port = (t.app.server.address() as { port: number }).port;
});
afterAll(async () => t.close());

describe('hostile ingest bodies', () => {
  it('answers every malformed envelope with a 4xx and stores nothing', async () => {
    const deep = (n: number, open: string, close: string) => open.repeat(n) + close.repeat(n);
    const bodies: Array<[string, Buffer | string, Record<string, string>?]> = [
      ['empty', ''],
      ['not JSON', 'records=1'],
      ['truncated', '{"records":[{"requestId":"a"'],
      ['JSON null', 'null'],
      ['a number', '1e999999'],
      ['a string', '"records"'],
      ['records not a list', '{"records":{"0":{}}}'],
      ['deeply nested arrays', deep(200_000, '[', ']')],
      ['deeply nested records', `{"records":${deep(100_000, '[', ']')}}`],
      [
        'deeply nested metadata',
        JSON.stringify({ records: [record(1)] }).replace(
          '"outputTokens":5',
          `"outputTokens":5,"metadata":${deep(50_000, '{"a":', '}').replace(/\}$/, '1}')}`,
        ),
      ],
      ['prototype pollution', '{"records":[],"__proto__":{"admin":true}}'],
      ['constructor pollution', '{"records":[{"constructor":{"prototype":{"x":1}}}]}'],
      ['invalid UTF-8', Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d])],
      ['lone surrogate escape in a key', '{"records":[{"\\ud800":1}]}'],
      ['too many records', JSON.stringify({ records: Array.from({ length: MAX_BATCH + 1 }, (_, i) => record(i)) })],
      ['form content type', 'records=1', { 'content-type': 'application/x-www-form-urlencoded' }],
      ['text content type', JSON.stringify({ records: [record(3)] }), { 'content-type': 'text/plain' }],
      ['gzip that is not', JSON.stringify({ records: [record(4)] }), { 'content-encoding': 'gzip' }],
      ['brotli, which is not spoken', JSON.stringify({ records: [record(6)] }), { 'content-encoding': 'br' }],
      [
        'unknown charset',
        JSON.stringify({ records: [record(5)] }),
        { 'content-type': 'application/json; charset=ebcdic' },
      ],
    ];
    for (const [name, body, headers] of bodies) {
      const answer = await post(body, headers);
      // a well-formed envelope of malformed records is answered per record instead
      if (answer.status === 200) expect(JSON.parse(answer.body), name).toMatchObject({ accepted: 0 });
      else expectRefused(answer, name);
    }
    expect(await stored()).toBe(0);
  });

  it('answers a body far over the size limit with 413, without resetting the connection', async () => {
    const huge = Buffer.alloc(MAX_BATCH * 12 * 1024 * 4, 0x20);
    const answer = await post(huge);
    expect(answer.status).toBe(413);
    expectRefused(answer, 'huge');
    // and a lying Content-Length that announces too much is refused before a byte is read
    const lying = await exchange(
      `POST /v1/usage/records HTTP/1.1\r\nhost: localhost\r\nauthorization: Bearer ${token}\r\ncontent-type: application/json\r\ncontent-length: 999999999\r\nconnection: close\r\n\r\n`,
      '{"records":[',
    );
    expect(lying.status).toBe(413);
  });

  it('reads a gzip body, and refuses a gzip bomb by its decompressed size', async () => {
    const fine = await post(gzipSync(JSON.stringify({ records: [record(100), record(101)] })), {
      'content-encoding': 'gzip',
    });
    expect(fine.status).toBe(200);
    expect(JSON.parse(fine.body)).toMatchObject({ accepted: 2, rejected: [] });

    const bomb = gzipSync(Buffer.alloc(MAX_BATCH * 12 * 1024 * 50, 0x20));
    expect(bomb.length).toBeLessThan(MAX_BATCH * 12 * 1024);
    const answer = await post(bomb, { 'content-encoding': 'gzip' });
    expect(answer.status).toBe(413);
    expectRefused(answer, 'bomb');

    const notGzip = await post(JSON.stringify({ records: [record(102)] }), { 'content-encoding': 'gzip' });
    expect(notGzip.status).toBe(400);
    expect(JSON.parse(notGzip.body)).toMatchObject({ code: 'invalid_content_encoding' });
    expect(await stored()).toBe(2);
  });

  it('answers a body that stops short of its Content-Length with 408 once the request timeout passes', async () => {
    const started = Date.now();
    const answer = await exchange(
      `POST /v1/usage/records HTTP/1.1\r\nhost: localhost\r\nauthorization: Bearer ${token}\r\ncontent-type: application/json\r\ncontent-length: 100\r\nconnection: close\r\n\r\n`,
      '{"records":[',
    );
    expect(answer.status).toBe(408);
    expect(Date.now() - started).toBeLessThan(4_000);
  });

  it('answers any JSON value, and any record of arbitrary fields, with a status and never a 5xx', async () => {
    const recordLike = fc.dictionary(
      fc.constantFrom(
        'requestId',
        'userId',
        'provider',
        'model',
        'inputTokens',
        'outputTokens',
        'cachedInputTokens',
        'totalTokens',
        'occurredAt',
        'metadata',
        'cost',
        'costStatus',
        'durationMs',
        'success',
        '__proto__',
        'constructor',
      ),
      fc.oneof(
        fc.jsonValue(),
        fc.constantFrom(-1, 1e300, 2 ** 63, Number.MAX_SAFE_INTEGER + 2, '\u0000', '\ud800', '0000-01-01T00:00:00Z'),
        fc.string({ unit: 'binary', maxLength: 30 }),
      ),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.jsonValue().map((value) => JSON.stringify(value)),
          fc.array(recordLike, { minLength: 1, maxLength: 5 }).map((records) => JSON.stringify({ records })),
        ),
        async (body) => {
          const answer = await post(body);
          expect(answer.status, `${body.slice(0, 200)} → ${answer.body.slice(0, 200)}`).toBeLessThan(500);
          if (answer.status >= 400) expectRefused(answer, body.slice(0, 200));
        },
      ),
      { numRuns: 200 },
    );
  });
});
