import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingest } from '../support/records';
import { bearer, createTestApp, type TestApp } from '../support/test-app';
import { rollupsAndRecomputations, seededRandom } from '../support/usage-checks';

const NOW = new Date('2025-06-10T00:00:00Z');
const FIRST_HOUR = Date.parse('2025-06-08T00:00:00Z');
const HOUR_MS = 3_600_000;

// priced from the built-in catalog, or unknown to it (unpriced unless the client sends a cost)
const MODELS = [
  { provider: 'openai', model: 'gpt-4o' },
  { provider: 'openai', model: 'gpt-4o-mini' },
  { provider: 'anthropic', model: 'claude-3-5-sonnet' },
  { provider: 'openai', model: 'o3' },
  { provider: 'acmeai', model: 'tally-unknown' },
];
const USERS = ['alice', 'bob', 'carol', 'dave'];
const WORKSPACES = ['default', 'acme'];

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp({ clock: { now: () => NOW } });
});
afterAll(async () => t.close());

describe('rollups', () => {
  it('equals a recomputation from the raw records after random batches with duplicates', async () => {
    const random = seededRandom(20250610);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
    const int = (max: number) => Math.floor(random() * (max + 1));

    const randomRecord = (requestId: string) => {
      const { provider, model } = pick(MODELS);
      const inputTokens = int(20_000);
      const outputTokens = int(4_000);
      const record: Record<string, unknown> = {
        requestId,
        userId: pick(USERS),
        provider,
        model,
        // spread over 48 hours, at any millisecond
        occurredAt: new Date(FIRST_HOUR + Math.floor(random() * 48 * HOUR_MS)).toISOString(),
        inputTokens,
        outputTokens,
        cachedInputTokens: random() < 0.5 ? int(inputTokens) : 0,
        reasoningTokens: random() < 0.3 ? int(outputTokens) : 0,
      };
      if (random() < 0.7) record.durationMs = int(30_000);
      if (random() < 0.8) record.operation = pick(['chat', 'embeddings', 'responses']);
      if (random() < 0.1) record.error = 'rate_limited';
      if (random() < 0.15) record.cost = `${int(5)}.${String(int(999_999)).padStart(6, '0')}`;
      return record;
    };

    // a small id space per workspace, so re-sends hit ids stored by earlier batches and by
    // the same batch; a re-send carries other content (first write wins)
    const seen = new Map<string, Set<string>>(WORKSPACES.map((w) => [w, new Set()]));
    let accepted = 0;
    let duplicates = 0;
    for (let batch = 0; batch < 16; batch += 1) {
      const workspaceId = pick(WORKSPACES);
      const size = 1 + int(250);
      const records = Array.from({ length: size }, () => randomRecord(`req-${int(1200)}`));
      const reply = await ingest(t, bearer(t.token('admin', { role: 'admin', workspaceId })), records);
      expect(reply.rejected).toEqual([]);

      const ids = seen.get(workspaceId)!;
      const fresh = new Set(records.map((r) => r.requestId as string).filter((id) => !ids.has(id)));
      for (const id of fresh) ids.add(id);
      expect(reply.accepted).toBe(fresh.size);
      expect(reply.duplicates).toBe(size - fresh.size);
      accepted += reply.accepted;
      duplicates += reply.duplicates;
    }
    // the data really has what the comparison is about
    expect(duplicates).toBeGreaterThan(500);
    const [mix] = (await t.db.query(`
      SELECT count(*)::int AS records,
        count(*) FILTER (WHERE cost_status = 'computed')::int AS computed,
        count(*) FILTER (WHERE cost_status = 'provided')::int AS provided,
        count(*) FILTER (WHERE cost_status = 'unpriced')::int AS unpriced,
        count(*) FILTER (WHERE NOT success)::int AS errors,
        count(DISTINCT date_trunc('hour', occurred_at))::int AS hours,
        count(DISTINCT operation)::int AS operations, count(*) FILTER (WHERE operation IS NULL)::int AS no_operation
      FROM usage_records`)) as Array<Record<string, number>>;
    expect(mix).toMatchObject({ records: accepted });
    for (const kind of ['computed', 'provided', 'unpriced', 'errors']) expect(mix![kind]).toBeGreaterThan(10);
    expect(mix!.hours).toBe(48);
    expect(mix).toMatchObject({ operations: 3 });
    expect(mix!.no_operation).toBeGreaterThan(10);

    const comparisons = await rollupsAndRecomputations(t.db);
    expect(comparisons.map((c) => c.table)).toContain('usage_hourly');
    for (const { table, rollup, recomputed } of comparisons) {
      // per user: 2 workspaces × 4 users × 2 days (or the 1 dekad or month they lie in) at least;
      // else 2 workspaces × 2 providers
      const perUser = rollup.length > 0 && 'user_id' in rollup[0]!;
      const oneUnit = table.includes('monthly') || table.includes('dekad');
      expect(rollup.length, table).toBeGreaterThanOrEqual(perUser ? (oneUnit ? 8 : 16) : 4);
      expect(rollup, table).toEqual(recomputed);
    }
    expect(comparisons.find((c) => c.table === 'usage_hourly')!.rollup.length).toBeGreaterThan(300);
  });

  it('stays exact when batches with overlapping request ids run concurrently', async () => {
    const random = seededRandom(7);
    const batches = Array.from({ length: 8 }, (_, b) =>
      Array.from({ length: 200 }, (_, i) => ({
        // every batch shares half its ids with the others, in the same order
        requestId: i % 2 === 0 ? `shared-${i}` : `own-${b}-${i}`,
        userId: USERS[i % USERS.length],
        provider: 'openai',
        model: i % 3 === 0 ? 'gpt-4o' : 'tally-unknown',
        occurredAt: new Date(FIRST_HOUR + (i % 5) * HOUR_MS + Math.floor(random() * 1000)).toISOString(),
        inputTokens: 100 + b,
        outputTokens: 10 + i,
      })),
    );
    const admin = bearer(t.token('admin', { role: 'admin', workspaceId: 'concurrent' }));
    const replies = await Promise.all(batches.map((records) => ingest(t, admin, records)));
    expect(replies.reduce((sum, r) => sum + r.accepted, 0)).toBe(100 + 8 * 100);

    for (const { table, rollup, recomputed } of await rollupsAndRecomputations(t.db)) {
      expect(rollup, table).toEqual(recomputed);
    }
  });
});
