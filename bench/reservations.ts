/**
 * Pre-flight quota reservations under load (`POST /v1/quota/reservations`), through the HTTP
 * API only: an admin JWT creates an API key and a hard-limited plan and puts 1,000 users on it;
 * an open-loop client then reserves at a fixed arrival rate for skewed random users with that
 * API key, settles every granted reservation by ingesting a usage record with the same
 * requestId (batched every 50 ms), while ordinary ingest of other users runs beside it.
 *
 * Two phases, each on its own 1,000 users and its own plan:
 * - exact: every settlement carries exactly the estimate. No reservation is released and none
 *   expires (TTL 600 s), so a user's used + held tokens at any moment equal the sum of the
 *   estimates granted so far: it only grows, and the hard limit held at every moment if and
 *   only if, at the end, used before + Σ granted estimates ≤ limit. Overspend is the sum over
 *   users of what goes past the limit.
 * - mixed: settlements 0.5–1.5 × the estimate, for realism. There the limit may be passed by
 *   what calls used beyond their estimates, and by nothing else: at the last grant g of a user,
 *   used + held + estimate(g) ≤ limit, and every later token is an actual − estimate of one of
 *   those reservations, so used at the end ≤ limit + Σ max(0, actual − estimate). Overspend is
 *   the sum over users of what goes past that.
 */
import { Agent, request } from 'node:http';
import { loadavg } from 'node:os';
import type pg from 'pg';
import { INGEST_STATEMENT_MARK } from '../src/infrastructure/persistence/pg-usage-repository';
import { fmix32, ingestDataset, mulberry32, usageRecord, USERS, WORKSPACE } from './dataset';
import { note, Progress } from './progress';
import { clusterCpuSeconds, cpuSecondsOf, type RunningService } from './service';
import { round } from './stats';

export const RESERVATION_TARGETS = { p99Ms: 5, overspendTokens: 0 };

/** Reservations of users at or past their limit: roughly this share of the tokens asked for is refused. */
const REFUSED_SHARE = 0.25;
const SETTLE_EVERY_MS = 50;
const INGEST_EVERY_MS = 500;
const WARM_UP_SECONDS = 2;
const SOCKETS = 256;
/**
 * A request whose turn comes while a second's worth of requests are still unanswered is not
 * sent but counted as skipped: a service slower than the rate then shows as skipped requests
 * and seconds of latency, instead of a queue that grows for minutes.
 */
const BACKLOG_SECONDS = 1;
/** estimatedTokens: uniform in [200, 4000) */
const ESTIMATE_MIN = 200;
const ESTIMATE_SPAN = 3800;
const MEAN_ESTIMATE = ESTIMATE_MIN + ESTIMATE_SPAN / 2;
const PRICED_MODELS: Array<[string, string]> = [
  ['openai', 'gpt-4o-mini'],
  ['anthropic', 'claude-sonnet-4-5'],
  ['google', 'gemini-2.5-flash'],
];

export interface ReservationSettings {
  rate: number;
  seconds: number;
  mixedSeconds: number;
  /** ordinary ingest beside the reservations, records/s (other users than the reservations') */
  ingestRate: number;
  seed: number;
}

export interface Latency {
  n: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export interface PhaseResult {
  phase: 'exact' | 'mixed';
  users: number;
  seconds: number;
  targetRate: number;
  /** requests sent ÷ the seconds from the start to the last send */
  sentPerSecond: number;
  /** answers ÷ the seconds from the start to the last answer */
  answeredPerSecond: number;
  /** how late the client sent a request after its scheduled time (its own event loop), ms */
  sendLagMs: { p99: number; max: number };
  maxInFlight: number;
  tokenLimit: number;
  /** requests due (rate × seconds) */
  due: number;
  /** due but not sent: a second's worth were unanswered (the service fell behind) */
  skipped: number;
  granted: number;
  refused: number;
  /** 429 rate_limited, other statuses, connection errors */
  errors: number;
  firstError?: string;
  /** refused share of the answers in each 10 s of the phase */
  refusedShareBy10s: number[];
  /** from the client's request() to the end of the answer (what the bar grades) */
  latencyMs: Latency;
  /** from the request's scheduled time: also counts the client's own lag (coordinated omission) */
  latencyFromScheduleMs: Latency;
  latencyGrantedMs: Latency;
  latencyRefusedMs: Latency;
  settlement: {
    batches: number;
    records: number;
    batchLatencyMs: Latency;
    aboveEstimate: number;
    belowEstimate: number;
    tokensAboveEstimates: number;
  };
  ordinaryIngest: { records: number; batches: number; batchLatencyMs: Latency };
  /** PostgreSQL backends sampled every 100 ms: seconds active in quota_reserve_batch, of it waiting for a lock; ingest */
  backendSeconds: { reserve: number; reserveLockWait: number; ingest: number; ingestLockWait: number };
  cpuSeconds: { service: number; postgres: number | null; bench: number };
  loadAverage1m: number;
  /** the bar: tokens past the limit (exact) or past limit + what settlements used beyond estimates (mixed) */
  overspendTokens: number;
  usersOverLimit: number;
  usersAtLimit: number;
  /** Σ used − limit over users past the limit (allowed in the mixed phase up to tokensAboveEstimates) */
  tokensPastLimit: number;
  /** cross-checks between the client's tally, quota_reservations, quota_usage, usage_records and the API */
  problems: string[];
}

export interface ReservationsResult {
  settings: ReservationSettings;
  users: number;
  skew: string;
  phases: PhaseResult[];
  overspendTokens: number;
  p99Ms: number;
}

export function latencyOf(samples: ArrayLike<number>): Latency {
  const sorted = Float64Array.from(samples).sort();
  if (sorted.length === 0) return { n: 0, p50: NaN, p95: NaN, p99: NaN, max: NaN };
  const rank = (p: number): number => round(sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]!, 2);
  return { n: sorted.length, p50: rank(0.5), p95: rank(0.95), p99: rank(0.99), max: round(sorted.at(-1)!, 2) };
}

interface Answer {
  status: number;
  body: string;
}

function call(
  agent: Agent,
  base: string,
  method: string,
  path: string,
  auth: Record<string, string>,
  body?: string | Buffer,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : typeof body === 'string' ? Buffer.from(body) : body;
    const req = request(
      new URL(path, base),
      {
        agent,
        method,
        headers: {
          ...auth,
          ...(payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.setTimeout(120_000, () => req.destroy(new Error('no answer within 120 s')));
    req.on('error', reject);
    req.end(payload);
  });
}

async function expectStatus(answer: Promise<Answer>, status: number, what: string): Promise<unknown> {
  const a = await answer;
  if (a.status !== status) throw new Error(`${what}: HTTP ${a.status}: ${a.body.slice(0, 300)}`);
  return a.body ? JSON.parse(a.body) : null;
}

/** user = floor(1000 · r³): user 0 gets 10% of the reservations, users 0–9 22%, half go to users 0–124. */
const pickUser = (r: number): number => Math.floor(USERS * r ** 3);
const userShare = (u: number): number => ((u + 1) / USERS) ** (1 / 3) - (u / USERS) ** (1 / 3);

/** The limit L at which Σ max(0, demand − L) over users is REFUSED_SHARE of the expected demand. */
export function tokenLimitFor(rate: number, seconds: number): number {
  const demand = Array.from({ length: USERS }, (_, u) => rate * seconds * userShare(u) * MEAN_ESTIMATE);
  const total = demand.reduce((a, b) => a + b, 0);
  let low = 0;
  let high = Math.max(...demand);
  for (let k = 0; k < 60; k += 1) {
    const mid = (low + high) / 2;
    const refused = demand.reduce((sum, d) => sum + Math.max(0, d - mid), 0);
    if (refused > REFUSED_SHARE * total) low = mid;
    else high = mid;
  }
  return Math.round(high);
}

interface Context {
  service: RunningService;
  db: pg.Client;
  postmasterPid: number | null;
  apiKey: string;
  settings: ReservationSettings;
  tag: string;
}

interface Tally {
  granted: number;
  estimates: number;
  actual: number;
  above: number;
}

const admin = (ctx: Context) => ({ authorization: `Bearer ${ctx.service.token}` });
const keyAuth = (ctx: Context) => ({ 'x-api-key': ctx.apiKey });

/** Puts the phase's users on a new hard plan, 8 requests at a time. */
async function planFor(ctx: Context, agent: Agent, name: string, limit: number, users: string[]): Promise<void> {
  const plan = (await expectStatus(
    call(
      agent,
      ctx.service.baseUrl,
      'POST',
      '/v1/admin/plans',
      admin(ctx),
      JSON.stringify({
        name,
        monthlyTokenLimit: limit,
        limitType: 'hard',
        alertThresholds: [80, 100],
      }),
    ),
    201,
    'create plan',
  )) as { id: string };
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      for (let i = next++; i < users.length; i = next++) {
        await expectStatus(
          call(
            agent,
            ctx.service.baseUrl,
            'PUT',
            `/v1/admin/users/${users[i]}/plan`,
            admin(ctx),
            JSON.stringify({ planId: plan.id }),
          ),
          200,
          `assign ${users[i]}`,
        );
      }
    }),
  );
}

/** Ordinary ingest request bodies (the bench's record generator, last hour), pre-serialised. */
function ordinaryBodies(settings: ReservationSettings, seconds: number, seedOffset: number): Buffer[] {
  const perBatch = Math.max(1, Math.round((settings.ingestRate * INGEST_EVERY_MS) / 1000));
  const batches = Math.floor((seconds * 1000) / INGEST_EVERY_MS);
  if (settings.ingestRate === 0 || batches === 0) return [];
  const dataset = ingestDataset(settings.seed + seedOffset, perBatch * batches, 'favourites', 'live');
  const bodies: Buffer[] = [];
  for (let b = 0; b < batches; b += 1) {
    const parts: string[] = [];
    for (let i = b * perBatch; i < (b + 1) * perBatch; i += 1) parts.push(usageRecord(dataset, i).json);
    bodies.push(Buffer.from(`{"records":[${parts.join(',')}]}`));
  }
  return bodies;
}

interface LoadSpec {
  name: string;
  users: string[];
  seconds: number;
  /** the settled record's total tokens for a granted estimate */
  actual: (estimate: number, r: number) => number;
  measure: boolean;
  ordinary: Buffer[];
  seed: number;
}

/** The open-loop load of one phase; returns everything measured on the client. */
async function runLoad(ctx: Context, spec: LoadSpec) {
  const { rate } = ctx.settings;
  const total = Math.round(rate * spec.seconds);
  const agent = new Agent({ keepAlive: true, maxSockets: SOCKETS });
  const ingestAgent = new Agent({ keepAlive: true, maxSockets: 16 });
  const settleAgent = new Agent({ keepAlive: true, maxSockets: 16 });
  const base = ctx.service.baseUrl;
  const fromSend = new Float64Array(total);
  const fromSchedule = new Float64Array(total);
  const sendLag = new Float64Array(total);
  const outcome = new Uint8Array(total); // 1 granted, 2 refused, 3 error, 4 skipped (backlog)
  const maxBacklog = Math.max(1, Math.round(rate * BACKLOG_SECONDS));
  const tallies = new Map<string, Tally>();
  let firstError: string | undefined;
  let inFlight = 0;
  let maxInFlight = 0;
  let answered = 0;
  let lastAnswer = 0;
  let lastSend = 0;
  let aboveCount = 0;
  let skippedSoFar = 0;
  let belowCount = 0;

  const settleQueue: Array<{ user: string; requestId: string; actual: number }> = [];
  const settlement = { batches: 0, records: 0, latency: [] as number[], problems: [] as string[] };
  const ingest = { batches: 0, records: 0, latency: [] as number[], problems: [] as string[] };
  const background: Array<Promise<void>> = [];

  const flush = (): void => {
    if (settleQueue.length === 0) return;
    const batch = settleQueue.splice(0, settleQueue.length);
    const now = new Date().toISOString();
    const body = JSON.stringify({
      records: batch.map((s, k) => {
        const input = Math.floor(s.actual * 0.7);
        const [provider, model] = PRICED_MODELS[k % PRICED_MODELS.length]!;
        return {
          requestId: s.requestId,
          occurredAt: now,
          userId: s.user,
          provider,
          model,
          inputTokens: input,
          outputTokens: s.actual - input,
        };
      }),
    });
    const t0 = performance.now();
    background.push(
      call(settleAgent, base, 'POST', '/v1/usage/records', keyAuth(ctx), body).then(
        (a) => {
          settlement.latency.push(performance.now() - t0);
          settlement.batches += 1;
          const r = a.status === 200 ? (JSON.parse(a.body) as { accepted: number; rejected: unknown[] }) : null;
          if (!r || r.accepted !== batch.length || r.rejected.length > 0) {
            settlement.problems.push(`settlement batch: HTTP ${a.status} ${a.body.slice(0, 300)}`);
          } else settlement.records += batch.length;
        },
        (error: Error) => void settlement.problems.push(`settlement batch: ${error.message}`),
      ),
    );
  };

  let nextBody = 0;
  const ingestTick = (): void => {
    const body = spec.ordinary[nextBody++];
    if (!body) return;
    const t0 = performance.now();
    background.push(
      call(ingestAgent, base, 'POST', '/v1/usage/records', admin(ctx), body).then(
        (a) => {
          ingest.latency.push(performance.now() - t0);
          ingest.batches += 1;
          const r = a.status === 200 ? (JSON.parse(a.body) as { accepted: number; rejected: unknown[] }) : null;
          if (!r || r.rejected.length > 0)
            ingest.problems.push(`ingest batch: HTTP ${a.status} ${a.body.slice(0, 300)}`);
          else ingest.records += r.accepted;
        },
        (error: Error) => void ingest.problems.push(`ingest batch: ${error.message}`),
      ),
    );
  };

  const progress = spec.measure ? new Progress(`reservations (${spec.name})`, total, 'requests') : undefined;
  const responses: Array<Promise<void>> = [];
  const send = (i: number, scheduled: number): void => {
    if (inFlight >= maxBacklog) {
      outcome[i] = 4;
      skippedSoFar += 1;
      return;
    }
    const rnd = mulberry32(fmix32(Math.imul(i + 1, 0x9e3779b1) ^ spec.seed));
    const user = spec.users[pickUser(rnd())]!;
    const estimate = ESTIMATE_MIN + Math.floor(ESTIMATE_SPAN * rnd());
    const [provider, model] = PRICED_MODELS[i % PRICED_MODELS.length]!;
    const requestId = `${spec.name}-${ctx.tag}-${i}`;
    const body = `{"userId":"${user}","requestId":"${requestId}","estimatedTokens":${estimate},"provider":"${provider}","model":"${model}"}`;
    const t0 = performance.now();
    sendLag[i] = t0 - scheduled;
    lastSend = t0;
    inFlight += 1;
    if (inFlight > maxInFlight) maxInFlight = inFlight;
    responses.push(
      call(agent, base, 'POST', '/v1/quota/reservations', keyAuth(ctx), body)
        .then(
          (a) => {
            const t1 = performance.now();
            fromSend[i] = t1 - t0;
            fromSchedule[i] = t1 - scheduled;
            if (a.status === 201) {
              outcome[i] = 1;
              const actual = spec.actual(estimate, rnd());
              const tally = tallies.get(user) ?? { granted: 0, estimates: 0, actual: 0, above: 0 };
              tally.granted += 1;
              tally.estimates += estimate;
              tally.actual += actual;
              tally.above += Math.max(0, actual - estimate);
              tallies.set(user, tally);
              if (actual > estimate) aboveCount += 1;
              else if (actual < estimate) belowCount += 1;
              settleQueue.push({ user, requestId, actual });
            } else if (a.status === 429 && a.body.includes('"quota_exceeded"')) outcome[i] = 2;
            else {
              outcome[i] = 3;
              firstError ??= `HTTP ${a.status}: ${a.body.slice(0, 300)}`;
            }
          },
          (error: Error) => {
            fromSend[i] = performance.now() - t0;
            fromSchedule[i] = performance.now() - scheduled;
            outcome[i] = 3;
            firstError ??= error.message;
          },
        )
        .finally(() => {
          inFlight -= 1;
          answered += 1;
          lastAnswer = performance.now();
        }),
    );
  };

  const cpuBefore = {
    service: cpuSecondsOf(ctx.service.pid),
    pg: ctx.postmasterPid ? clusterCpuSeconds(ctx.postmasterPid) : 0,
    bench: process.cpuUsage(),
  };
  const backend = { reserve: 0, reserveLockWait: 0, ingest: 0, ingestLockWait: 0 };
  let sampling = spec.measure;
  const sampler = (async () => {
    while (sampling) {
      const row = (
        await ctx.db.query(`
          SELECT count(*) FILTER (WHERE query LIKE '%quota_reserve_batch(%')::int AS reserve,
                 count(*) FILTER (WHERE query LIKE '%quota_reserve_batch(%' AND wait_event_type = 'Lock')::int AS reserve_wait,
                 count(*) FILTER (WHERE starts_with(query, '${INGEST_STATEMENT_MARK}'))::int AS ingest,
                 count(*) FILTER (WHERE starts_with(query, '${INGEST_STATEMENT_MARK}') AND wait_event_type = 'Lock')::int AS ingest_wait
          FROM pg_stat_activity
          WHERE datname = current_database() AND state = 'active' AND pid <> pg_backend_pid()`)
      ).rows[0] as { reserve: number; reserve_wait: number; ingest: number; ingest_wait: number };
      backend.reserve += row.reserve / 10;
      backend.reserveLockWait += row.reserve_wait / 10;
      backend.ingest += row.ingest / 10;
      backend.ingestLockWait += row.ingest_wait / 10;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })().catch(() => undefined);

  const settleTimer = setInterval(flush, SETTLE_EVERY_MS);
  const ingestTimer = setInterval(ingestTick, INGEST_EVERY_MS);
  const started = performance.now();
  await new Promise<void>((resolve) => {
    let next = 0;
    const tick = (): void => {
      const due = Math.min(total, Math.floor(((performance.now() - started) * rate) / 1000) + 1);
      for (; next < due; next += 1) send(next, started + (next * 1000) / rate);
      progress?.update(answered + skippedSoFar);
      if (next < total) setTimeout(tick, 1);
      else resolve();
    };
    tick();
  });
  clearInterval(ingestTimer);
  await Promise.all(responses);
  clearInterval(settleTimer);
  flush();
  await Promise.all(background);
  sampling = false;
  await sampler;
  progress?.update(answered + skippedSoFar);
  progress?.finish();
  const bench = process.cpuUsage(cpuBefore.bench);
  const cpuSeconds = {
    service: round(cpuSecondsOf(ctx.service.pid) - cpuBefore.service, 1),
    postgres: ctx.postmasterPid ? round(clusterCpuSeconds(ctx.postmasterPid) - cpuBefore.pg, 1) : null,
    bench: round((bench.user + bench.system) / 1e6, 1),
  };
  agent.destroy();
  ingestAgent.destroy();
  settleAgent.destroy();

  const windows = Math.ceil(spec.seconds / 10);
  const refusedShareBy10s = Array.from({ length: windows }, (_, w) => {
    let refused = 0;
    let all = 0;
    for (let i = Math.floor(w * 10 * rate); i < Math.min(total, Math.floor((w + 1) * 10 * rate)); i += 1) {
      if (outcome[i] !== 4) all += 1;
      if (outcome[i] === 2) refused += 1;
    }
    return all === 0 ? 0 : round(refused / all, 3);
  });
  const pick = (samples: Float64Array, kinds: number[]): number[] =>
    Array.from(samples).filter((_, i) => kinds.includes(outcome[i]!));
  const answeredKinds = [1, 2, 3];
  const lag = latencyOf(pick(sendLag, answeredKinds));
  const sentCount = total - outcome.filter((o) => o === 4).length;
  const tallied = [...tallies.values()];
  return {
    total,
    tallies,
    firstError,
    maxInFlight,
    skipped: total - sentCount,
    sentPerSecond: sentCount / Math.max(1e-3, (lastSend - started) / 1000),
    answeredPerSecond: sentCount / Math.max(1e-3, (lastAnswer - started) / 1000),
    sendLagMs: { p99: lag.p99, max: lag.max },
    granted: outcome.filter((o) => o === 1).length,
    refused: outcome.filter((o) => o === 2).length,
    errors: outcome.filter((o) => o === 3).length,
    refusedShareBy10s,
    latencyMs: latencyOf(pick(fromSend, answeredKinds)),
    latencyFromScheduleMs: latencyOf(pick(fromSchedule, answeredKinds)),
    latencyGrantedMs: latencyOf(pick(fromSend, [1])),
    latencyRefusedMs: latencyOf(pick(fromSend, [2])),
    settlement: {
      batches: settlement.batches,
      records: settlement.records,
      batchLatencyMs: latencyOf(settlement.latency),
      aboveEstimate: aboveCount,
      belowEstimate: belowCount,
      tokensAboveEstimates: tallied.reduce((s, t) => s + t.above, 0),
    },
    ordinaryIngest: { records: ingest.records, batches: ingest.batches, batchLatencyMs: latencyOf(ingest.latency) },
    backendSeconds: {
      reserve: round(backend.reserve, 1),
      reserveLockWait: round(backend.reserveLockWait, 1),
      ingest: round(backend.ingest, 1),
      ingestLockWait: round(backend.ingestLockWait, 1),
    },
    cpuSeconds,
    problems: [...settlement.problems.slice(0, 5), ...ingest.problems.slice(0, 5)],
  };
}

interface StoredUser {
  reservations: number;
  estimates: number;
  settled: number;
  active: number;
  used: number;
  rawRecords: number;
  rawTokens: number;
}

/** Per user of the phase: reservations, quota_usage of the current period, the raw records of the period. */
async function stored(db: pg.Client, users: string[]): Promise<Map<string, StoredUser>> {
  const { rows } = await db.query(
    `WITH period AS (
       SELECT date_trunc('month', now(), coalesce((SELECT time_zone FROM workspaces WHERE workspace_id = $1), 'UTC')) AS start),
     r AS (
       SELECT user_id, count(*)::int AS reservations, coalesce(sum(estimated_tokens), 0)::bigint AS estimates,
              count(*) FILTER (WHERE status = 'settled')::int AS settled,
              count(*) FILTER (WHERE status = 'active')::int AS active
       FROM quota_reservations WHERE workspace_id = $1 AND user_id = ANY($2) AND period_start = (SELECT start FROM period)
       GROUP BY 1),
     q AS (
       SELECT user_id, tokens AS used FROM quota_usage
       WHERE workspace_id = $1 AND user_id = ANY($2) AND period_start = (SELECT start FROM period)),
     raw AS (
       SELECT user_id, count(*)::int AS raw_records, sum(total_tokens)::bigint AS raw_tokens FROM usage_records
       WHERE workspace_id = $1 AND user_id = ANY($2) AND occurred_at >= (SELECT start FROM period)
       GROUP BY 1)
     SELECT u AS user_id, coalesce(r.reservations, 0) AS reservations, coalesce(r.estimates, 0) AS estimates,
            coalesce(r.settled, 0) AS settled, coalesce(r.active, 0) AS active, coalesce(q.used, 0) AS used,
            coalesce(raw.raw_records, 0) AS raw_records, coalesce(raw.raw_tokens, 0) AS raw_tokens
     FROM unnest($2::text[]) u LEFT JOIN r ON r.user_id = u LEFT JOIN q ON q.user_id = u LEFT JOIN raw ON raw.user_id = u`,
    [WORKSPACE, users],
  );
  return new Map(
    (rows as Array<Record<string, string | number>>).map((row) => [
      String(row.user_id),
      {
        reservations: Number(row.reservations),
        estimates: Number(row.estimates),
        settled: Number(row.settled),
        active: Number(row.active),
        used: Number(row.used),
        rawRecords: Number(row.raw_records),
        rawTokens: Number(row.raw_tokens),
      },
    ]),
  );
}

async function phase(ctx: Context, name: 'exact' | 'mixed', seconds: number, seedOffset: number): Promise<PhaseResult> {
  const { rate } = ctx.settings;
  const users = Array.from({ length: USERS }, (_, u) => `resv-${name}-${String(u).padStart(4, '0')}`);
  const limit = tokenLimitFor(rate, seconds);
  const setupAgent = new Agent({ keepAlive: true, maxSockets: 8 });
  note(`reservations (${name}): a hard plan of ${limit.toLocaleString('en-US')} tokens a month for ${USERS} users`);
  await planFor(ctx, setupAgent, `bench-${name}-${ctx.tag}`, limit, users);
  const before = await stored(ctx.db, users);
  const ordinary = ordinaryBodies(ctx.settings, seconds, seedOffset);
  const load = await runLoad(ctx, {
    name,
    users,
    seconds,
    measure: true,
    ordinary,
    seed: ctx.settings.seed + seedOffset,
    actual: name === 'exact' ? (estimate) => estimate : (estimate, r) => Math.max(1, Math.round(estimate * (0.5 + r))),
  });
  const after = await stored(ctx.db, users);
  const problems = [...load.problems];
  if (load.firstError) problems.push(`${load.errors} reservations failed, first: ${load.firstError}`);

  let overspend = 0;
  let usersOverLimit = 0;
  let usersAtLimit = 0;
  let tokensPastLimit = 0;
  for (const user of users) {
    const b = before.get(user)!;
    const a = after.get(user)!;
    const t = load.tallies.get(user) ?? { granted: 0, estimates: 0, actual: 0, above: 0 };
    const check = (ok: boolean, what: string): void => void (ok || problems.push(`${user}: ${what}`));
    check(
      a.reservations - b.reservations === t.granted,
      `${a.reservations - b.reservations} reservations stored, ${t.granted} granted to the client`,
    );
    check(
      a.estimates - b.estimates === t.estimates,
      `stored estimates ${a.estimates - b.estimates} ≠ granted ${t.estimates}`,
    );
    check(a.active === 0, `${a.active} reservations still active after every settlement`);
    check(a.used - b.used === t.actual, `quota_usage grew by ${a.used - b.used}, the settlements carried ${t.actual}`);
    check(a.rawTokens === a.used, `quota_usage ${a.used} ≠ the period's raw records ${a.rawTokens}`);
    check(
      a.rawRecords - b.rawRecords === t.granted,
      `${a.rawRecords - b.rawRecords} raw records, ${t.granted} settled`,
    );
    const past = name === 'exact' ? b.used + (a.estimates - b.estimates) - limit : a.used - limit - t.above;
    overspend += Math.max(0, past);
    if (a.used > limit) {
      usersOverLimit += 1;
      tokensPastLimit += a.used - limit;
    }
    if (limit - a.used < ESTIMATE_MIN + ESTIMATE_SPAN) usersAtLimit += 1;
  }
  // the API's view of the heaviest user agrees with the tables
  const heavy = users[0]!;
  const view = (await expectStatus(
    call(setupAgent, ctx.service.baseUrl, 'GET', `/v1/admin/users/${heavy}/quota`, admin(ctx)),
    200,
    'quota of the heaviest user',
  )) as { tokens: { limit: number | null; used: number; reserved: number } };
  setupAgent.destroy();
  if (view.tokens.limit !== limit || view.tokens.used !== after.get(heavy)!.used || view.tokens.reserved !== 0) {
    problems.push(
      `GET /v1/admin/users/${heavy}/quota says ${JSON.stringify(view.tokens)}; limit ${limit}, used ${after.get(heavy)!.used}, nothing held expected`,
    );
  }
  return {
    phase: name,
    users: USERS,
    seconds,
    targetRate: rate,
    sentPerSecond: round(load.sentPerSecond, 0),
    answeredPerSecond: round(load.answeredPerSecond, 0),
    sendLagMs: load.sendLagMs,
    maxInFlight: load.maxInFlight,
    tokenLimit: limit,
    due: load.total,
    skipped: load.skipped,
    granted: load.granted,
    refused: load.refused,
    errors: load.errors,
    firstError: load.firstError,
    refusedShareBy10s: load.refusedShareBy10s,
    latencyMs: load.latencyMs,
    latencyFromScheduleMs: load.latencyFromScheduleMs,
    latencyGrantedMs: load.latencyGrantedMs,
    latencyRefusedMs: load.latencyRefusedMs,
    settlement: load.settlement,
    ordinaryIngest: load.ordinaryIngest,
    backendSeconds: load.backendSeconds,
    cpuSeconds: load.cpuSeconds,
    loadAverage1m: round(loadavg()[0]!, 2),
    overspendTokens: overspend,
    usersOverLimit,
    usersAtLimit,
    tokensPastLimit,
    problems: problems.slice(0, 20),
  };
}

/** Sets up through the admin API, warms up, then runs the exact phase and (unless 0 s) the mixed one. */
export async function runReservations(
  service: RunningService,
  db: pg.Client,
  postmasterPid: number | null,
  settings: ReservationSettings,
): Promise<ReservationsResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: 4 });
  const created = (await expectStatus(
    call(
      agent,
      service.baseUrl,
      'POST',
      '/v1/admin/api-keys',
      { authorization: `Bearer ${service.token}` },
      JSON.stringify({ name: 'bench reservations' }),
    ),
    201,
    'create API key',
  )) as { key: string };
  agent.destroy();
  const ctx: Context = {
    service,
    db,
    postmasterPid,
    apiKey: created.key,
    settings,
    tag: `${process.pid}${Date.now().toString(36)}`,
  };
  // warm-up: JIT, sockets and pools, on users of the default plan (their reservations are refused soon)
  note(`reservations: ${WARM_UP_SECONDS} s warm-up at ${settings.rate}/s`);
  await runLoad(ctx, {
    name: 'warm-up',
    users: Array.from({ length: USERS }, (_, u) => `resv-warm-up-${u}`),
    seconds: WARM_UP_SECONDS,
    measure: false,
    ordinary: [],
    seed: settings.seed + 7,
    actual: (estimate) => estimate,
  });
  const phases = [await phase(ctx, 'exact', settings.seconds, 1)];
  if (settings.mixedSeconds > 0) phases.push(await phase(ctx, 'mixed', settings.mixedSeconds, 2));
  return {
    settings,
    users: USERS,
    skew: 'user = floor(1000 · r³): user 0 gets 10% of the reservations, users 0–9 22%',
    phases,
    overspendTokens: phases.reduce((s, p) => s + p.overspendTokens, 0),
    p99Ms: Math.max(...phases.map((p) => p.latencyMs.p99)),
  };
}

const num = (n: number, digits = 0): string =>
  Number.isFinite(n)
    ? n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })
    : '-';
const ms = (l: Latency): string => `${num(l.p50, 2)} / ${num(l.p95, 2)} / ${num(l.p99, 2)} / ${num(l.max, 1)}`;

/** The report's lines; the bars are graded on every phase. */
export function reservationReport(r: ReservationsResult): string[] {
  const s = r.settings;
  const out = [
    `Quota reservations: open loop at ${num(s.rate)}/s (keep-alive, up to ${SOCKETS} sockets), one API key, ${r.users} users per phase (${r.skew}); granted ones settled by ingest every ${SETTLE_EVERY_MS} ms; ordinary ingest of other users at ${num(s.ingestRate)} records/s beside it`,
  ];
  for (const p of r.phases) {
    const pass = (ok: boolean): string => (ok ? 'PASS' : 'FAIL');
    out.push(
      `  ${p.phase} (${p.seconds} s, settlements ${p.phase === 'exact' ? '= the estimate' : '0.5–1.5 × the estimate'}; hard limit ${num(p.tokenLimit)} tokens a user):`,
      `    latency ms p50 / p95 / p99 / max: ${ms(p.latencyMs)}  p99<=${RESERVATION_TARGETS.p99Ms}ms ${pass(p.latencyMs.p99 <= RESERVATION_TARGETS.p99Ms)}`,
      `      granted ${ms(p.latencyGrantedMs)}; refused ${ms(p.latencyRefusedMs)}; from the scheduled time ${ms(p.latencyFromScheduleMs)} (client send lag p99 ${num(p.sendLagMs.p99, 2)}, max ${num(p.sendLagMs.max, 1)})`,
      `    rate: sent ${num(p.sentPerSecond)}/s, answered ${num(p.answeredPerSecond)}/s (target ${num(p.targetRate)}), at most ${p.maxInFlight} in flight; ${num(p.due)} due, ${num(p.skipped)} skipped (${num(BACKLOG_SECONDS)} s of requests unanswered): ${num(p.granted)} granted, ${num(p.refused)} refused (quota_exceeded), ${num(p.errors)} errors`,
      `    refused share by 10 s: ${p.refusedShareBy10s.map((x) => `${Math.round(x * 100)}%`).join(' ')}; users past the limit ${p.usersOverLimit}, within one estimate of it ${p.usersAtLimit}`,
      `    overspend ${num(p.overspendTokens)} tokens ${pass(p.overspendTokens === 0)}${p.phase === 'mixed' ? ` (used past the limit ${num(p.tokensPastLimit)}, settled above estimates ${num(p.settlement.tokensAboveEstimates)})` : ''}`,
      `    settlement: ${num(p.settlement.records)} records (${num(p.settlement.aboveEstimate)} above the estimate, ${num(p.settlement.belowEstimate)} below) in ${num(p.settlement.batches)} batches, batch p50/p99 ${num(p.settlement.batchLatencyMs.p50, 1)}/${num(p.settlement.batchLatencyMs.p99, 1)} ms; ordinary ingest ${num(p.ordinaryIngest.records)} records, batch p50/p99 ${num(p.ordinaryIngest.batchLatencyMs.p50, 1)}/${num(p.ordinaryIngest.batchLatencyMs.p99, 1)} ms`,
      `    PostgreSQL backends (s): quota_reserve_batch ${num(p.backendSeconds.reserve, 1)} (waiting for a lock ${num(p.backendSeconds.reserveLockWait, 1)}), ingest ${num(p.backendSeconds.ingest, 1)} (lock ${num(p.backendSeconds.ingestLockWait, 1)}); CPU s service ${num(p.cpuSeconds.service, 1)}, PostgreSQL ${p.cpuSeconds.postgres === null ? '-' : num(p.cpuSeconds.postgres, 1)}, bench ${num(p.cpuSeconds.bench, 1)}; load ${num(p.loadAverage1m, 2)}`,
      ...p.problems.map((x) => `    CHECK FAILED: ${x}`),
    );
  }
  return out;
}
