import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningService } from '../../src/composition-root';
import { foldPending } from '../../src/infrastructure/persistence/pg-rollup-folder';
import { recordAcknowledgedOnce, waitUntil, type AcknowledgedRecord } from '../support/outage-checks';
import { createTestDatabase, signTestToken, startTestService } from '../support/test-app';
import { rollupsAndRecomputations, seededRandom } from '../support/usage-checks';

/**
 * Two service instances on one database, both ingesting (the same request ids sent to both,
 * at the same time) and both folding in the background (plus extra folds on both pools):
 * each record counts once, and every rollup equals a recomputation from the raw records.
 */

const CLIENTS = 6;
const BATCHES = 12;
const BATCH = 40;
/** request ids are drawn from this many, so batches overlap, within and across instances */
const UNIVERSE = 1_500;
const PROVIDERS = [
  ['openai', 'gpt-4o'],
  ['anthropic', 'claude-3-5-sonnet'],
  ['google', 'gemini-1.5-pro'],
  ['acme', 'unpriced-model'],
] as const;

let database: { url: string; drop: () => Promise<void> };
let instances: RunningService[] = [];
let token: string;

beforeAll(async () => {
  database = await createTestDatabase();
  const start = (): Promise<RunningService> =>
    startTestService(database.url, {
      timeouts: { connectMs: 5_000, statementMs: 30_000 },
      poolSize: 4,
      foldIntervalMs: 10,
    });
  // both start at once, as two replicas of a deployment do: migrations wait for each other
  instances = await Promise.all([start(), start()]);
  token = signTestToken({ sub: 'ops', role: 'admin', workspaceId: 'default' });
}, 120_000);

afterAll(async () => {
  await Promise.all(instances.map((s) => s.stop()));
  await database?.drop();
});

/** The record a request id stands for: every copy of it, on either instance, is the same. */
function recordOf(id: number): AcknowledgedRecord & Record<string, unknown> {
  const [provider, model] = PROVIDERS[id % PROVIDERS.length]!;
  return {
    requestId: `req-${id}`,
    userId: `user-${id % 9}`,
    provider,
    model,
    occurredAt: new Date(Date.now() - (id % 72) * 3_600_000).toISOString(),
    inputTokens: 100 + ((id * 37) % 1000),
    outputTokens: 5 + ((id * 11) % 200),
  };
}

describe('two service instances on one database', () => {
  it('count every record once and keep every rollup exact while both ingest and fold', async () => {
    const sent = new Map<string, AcknowledgedRecord>();
    let records = 0;
    let accepted = 0;
    let duplicates = 0;
    let ingesting = true;

    const client = async (c: number): Promise<void> => {
      const random = seededRandom(1000 + c);
      for (let b = 0; b < BATCHES; b += 1) {
        const batch = Array.from({ length: BATCH }, () => recordOf(Math.floor(random() * UNIVERSE)));
        const instance = instances[(c + b) % 2]!;
        const res = await instance.app.inject({
          method: 'POST',
          url: '/v1/usage/records',
          headers: { authorization: `Bearer ${token}` },
          payload: { records: batch },
        });
        expect(res.statusCode, res.body).toBe(200);
        const reply = res.json<{ accepted: number; duplicates: number; rejected: unknown[] }>();
        expect(reply.rejected).toEqual([]);
        accepted += reply.accepted;
        duplicates += reply.duplicates;
        records += batch.length;
        for (const record of batch) sent.set(record.requestId, record);
      }
    };
    // besides the instances' own background folds: more folds on both pools, all the time
    const folded = [0, 0];
    const hammer = async (i: number): Promise<void> => {
      while (ingesting) {
        folded[i]! += await foldPending(i === 0 ? instances[0]!.dataSource : instances[1]!.background, 5);
        await new Promise((done) => setTimeout(done, 5));
      }
    };

    const hammers = [hammer(0), hammer(1)];
    await Promise.all(Array.from({ length: CLIENTS }, (_, c) => client(c)));
    ingesting = false;
    await Promise.all(hammers);

    // each request id was accepted by exactly one answer, on whichever instance came first
    expect(accepted).toBe(sent.size);
    expect(accepted + duplicates).toBe(records);
    expect(sent.size).toBeLessThan(records); // the batches did overlap

    // the instances' background folds work off the rest
    const db = instances[0]!.dataSource;
    await waitUntil(15_000, async () => {
      const [row] = (await db.query('SELECT count(*)::int AS n FROM usage_pending')) as Array<{ n: number }>;
      return row!.n === 0;
    });
    console.log(
      `[two instances] ${records} records sent, ${sent.size} distinct, ${duplicates} duplicates; ` +
        `extra folds moved ${folded[0]} + ${folded[1]} pending rows`,
    );

    await recordAcknowledgedOnce(db, sent);
    for (const { table, rollup, recomputed } of await rollupsAndRecomputations(db)) {
      expect(rollup, table).toEqual(recomputed);
    }
  }, 90_000);
});
