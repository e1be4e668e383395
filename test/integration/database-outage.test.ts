import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningService } from '../../src/composition-root';
import { startEmbeddedPostgres, type RunningPostgres } from '../../src/infrastructure/embedded-postgres';
import { signTestToken, startTestService } from '../support/test-app';
import { recordAcknowledgedOnce, waitUntil } from '../support/outage-checks';
import { rollupsAndRecomputations } from '../support/usage-checks';

/**
 * PostgreSQL stops (fast shutdown) for ten seconds while clients ingest. Every answer in the
 * meantime is a 503 with Retry-After in the service's error shape, within a bounded time;
 * readiness says 503 and then 200 again; the service recovers by itself (pool, fold); after
 * the clients' retries every acknowledged record is stored once and the rollups are exact.
 *
 * Its own embedded PostgreSQL (the suite's shared one must not be stopped), on a fixed port so
 * that the restarted server is where the service's pools look for it.
 */

const OUTAGE_MS = 10_000;
/** No answer may take longer: a request still open after this is a hang. */
const HANG_MS = 5_000;
const CLIENTS = 4;
const BATCH = 20;
const PROVIDERS = [
  ['openai', 'gpt-4o'],
  ['anthropic', 'claude-3-5-sonnet'],
  ['google', 'gemini-1.5-pro'],
  ['acme', 'unpriced-model'],
] as const;

interface Answer {
  status: number | 'network-error' | 'hang';
  ms: number;
  phase: Phase;
  retryAfter: string | null;
  body: unknown;
}
type Phase = 'before' | 'outage' | 'after';

interface SentRecord {
  requestId: string;
  userId: string;
  provider: string;
  model: string;
  inputTokens: number;
  outputTokens: number;
}

let dir: string;
let postgres: RunningPostgres;
let service: RunningService;
let base: string;
let token: string;
const unexpected: unknown[] = [];
const onUnexpected = (error: unknown): void => void unexpected.push(error);

beforeAll(async () => {
  process.on('unhandledRejection', onUnexpected);
  process.on('uncaughtException', onUnexpected);
  dir = mkdtempSync(join(tmpdir(), 'tokentally-outage-'));
  chmodSync(dir, 0o755); // as root, PostgreSQL runs as the postgres user, which must enter it
  postgres = await startEmbeddedPostgres({ dir: join(dir, 'pg'), ephemeral: true });
  service = await startTestService(postgres.url, {
    settings: { rawRetentionDays: 90 },
    timeouts: { connectMs: 2_000, statementMs: 5_000 },
    poolSize: 4,
    foldIntervalMs: 100,
  });
  await service.app.listen({ port: 0, host: '127.0.0.1' });
  base = `http://127.0.0.1:${(service.app.server.address() as AddressInfo).port}`;
  token = signTestToken({ sub: 'ops', role: 'admin', workspaceId: 'default' });
}, 120_000);

afterAll(async () => {
  process.off('unhandledRejection', onUnexpected);
  process.off('uncaughtException', onUnexpected);
  await service?.stop();
  await postgres?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function call(method: 'GET' | 'POST', path: string, phase: Phase, payload?: object): Promise<Answer> {
  const started = performance.now();
  try {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(payload ? { 'content-type': 'application/json' } : {}) },
      body: payload ? JSON.stringify(payload) : undefined,
      signal: AbortSignal.timeout(HANG_MS),
    });
    const body: unknown = await res.json();
    return {
      status: res.status,
      ms: performance.now() - started,
      phase,
      retryAfter: res.headers.get('retry-after'),
      body,
    };
  } catch (error) {
    const hang = (error as Error).name === 'TimeoutError';
    return {
      status: hang ? 'hang' : 'network-error',
      ms: performance.now() - started,
      phase,
      retryAfter: null,
      body: String(error),
    };
  }
}

const sleep = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms));

describe('the database goes away for ten seconds under ingest load', () => {
  it('answers 503 meanwhile, recovers by itself and loses or doubles no acknowledged record', async () => {
    let phase: Phase = 'before';
    let stopClients = false;
    const answers: Answer[] = [];
    const acknowledged = new Map<string, SentRecord>();
    let batchesRetried = 0;

    // a client as the README asks for: a batch keeps its request ids until it is answered 200,
    // whatever happened to earlier attempts (an ambiguous failure may have stored it)
    const client = async (c: number): Promise<void> => {
      for (let b = 0; !stopClients; b += 1) {
        const records: SentRecord[] = Array.from({ length: BATCH }, (_, i) => {
          const [provider, model] = PROVIDERS[(c + b + i) % PROVIDERS.length]!;
          return {
            requestId: `c${c}-b${b}-r${i}`,
            userId: `user-${(c * 7 + i) % 5}`,
            provider,
            model,
            inputTokens: 100 + ((b * 31 + i * 7) % 900),
            outputTokens: 10 + ((b * 13 + i) % 90),
          };
        });
        for (let attempt = 0; ; attempt += 1) {
          const answer = await call('POST', '/v1/usage/records', phase, { records });
          answers.push(answer);
          if (answer.status === 200) {
            for (const record of records) acknowledged.set(record.requestId, record);
            if (attempt > 0) batchesRetried += 1;
            break;
          }
          await sleep(200); // shorter than Retry-After, to sample more answers during the outage
        }
      }
    };

    const clients = Array.from({ length: CLIENTS }, (_, c) => client(c));
    await sleep(2_000);
    expect(acknowledged.size).toBeGreaterThan(0);

    phase = 'outage';
    const stopping = performance.now();
    await postgres.stop(); // fast shutdown: sessions are terminated (57P01), new ones refused
    const stopMs = performance.now() - stopping;
    const readinessDuring: Answer[] = [];
    const liveness: Answer[] = [];
    const outageEnds = performance.now() + OUTAGE_MS;
    while (performance.now() < outageEnds) {
      readinessDuring.push(await call('GET', '/health/ready', phase));
      liveness.push(await call('GET', '/health', phase));
      await sleep(500);
    }
    const port = Number(new URL(postgres.url).port);
    postgres = await startEmbeddedPostgres({ dir: postgres.dir, port, ephemeral: true });
    const restarted = performance.now();
    let readyAgain: Answer | undefined;
    await waitUntil(15_000, async () => {
      readyAgain = await call('GET', '/health/ready', phase);
      return readyAgain.status === 200;
    });
    const recoveryMs = performance.now() - restarted;
    phase = 'after';
    await sleep(2_000);
    stopClients = true;
    await Promise.all(clients);

    // the service's own fold catches up: nothing here folds
    const pending = async (): Promise<number> =>
      Number(
        ((await service.background.query('SELECT count(*) AS n FROM usage_pending')) as Array<{ n: string }>)[0]!.n,
      );
    await waitUntil(15_000, async () => (await pending()) === 0);

    const during = answers.filter((a) => a.phase === 'outage');
    const unavailable = answers.filter((a) => a.status === 503);
    const slowest = Math.max(...answers.map((a) => a.ms));
    const slowestDuring = Math.max(...during.map((a) => a.ms));
    console.log(
      `[outage] stop took ${stopMs.toFixed(0)} ms; ${answers.length} ingest answers ` +
        `(${during.length} during the outage, ${unavailable.length} × 503, ${batchesRetried} batches retried); ` +
        `slowest answer ${slowest.toFixed(0)} ms (during the outage ${slowestDuring.toFixed(0)} ms); ` +
        `readiness 200 again ${recoveryMs.toFixed(0)} ms after the restart; ${acknowledged.size} records acknowledged`,
    );

    // every answer is a 200 or a 503 in the error shape, with Retry-After, and none hangs
    expect(answers.filter((a) => a.status !== 200 && a.status !== 503)).toEqual([]);
    expect(unavailable.length).toBeGreaterThan(10);
    for (const answer of unavailable) {
      expect(answer.body).toEqual({ statusCode: 503, code: 'database_unavailable', message: expect.any(String) });
      expect(Number(answer.retryAfter)).toBeGreaterThan(0);
    }
    expect(slowest).toBeLessThan(HANG_MS);
    expect(answers.filter((a) => a.phase === 'after' && a.status === 200).length).toBeGreaterThan(0);

    // readiness: 503 while the database is away, 200 after; the process stayed alive throughout
    expect(readinessDuring.length).toBeGreaterThan(5);
    for (const answer of readinessDuring) {
      expect(answer.status).toBe(503);
      expect(answer.body).toMatchObject({ status: 'not_ready' });
      expect(answer.ms).toBeLessThan(HANG_MS);
    }
    expect(readyAgain?.body).toEqual({ status: 'ready', problems: [] });
    expect(liveness.every((a) => a.status === 200)).toBe(true);
    expect(unexpected).toEqual([]);

    // every acknowledged record stored exactly once, and nothing else
    const db = service.dataSource;
    await recordAcknowledgedOnce(db, acknowledged);

    // every rollup equals a recomputation from the raw records
    for (const { table, rollup, recomputed } of await rollupsAndRecomputations(db)) {
      expect(rollup, table).toEqual(recomputed);
    }
  }, 90_000);
});
