/**
 * The proxy under concurrent streaming calls, as they come in real use: N client slots keep a
 * streamed chat completion in flight through the proxy at every moment (each stream, from the
 * fake upstream in a process of its own, takes ~0.5 s: 20 events 25 ms apart), and N more slots do
 * the same straight to the fake upstream, in the same seconds. Slots start staggered over the
 * first stream's length. The time to the first byte of the answer's body is measured on
 * both; the proxy's added time is the difference of their p95. Two phases: users whose plan
 * has no limits (no reservation is made) and users on a hard plan (every call reserves
 * before it is forwarded). The service's RSS is read after the warm-up and after the last
 * phase: streams pass through, so it should stay flat.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Agent, request } from 'undici';
import { note } from './progress';
import { cpuSecondsOf, memoryOf, REPO_ROOT, type RunningService } from './service';
import { percentiles, round as round1 } from './stats';

export const PROXY_TARGETS = { addedTtfbP95Ms: 5 } as const;

/** The fake upstream, running in a process of its own. */
export interface BenchUpstream {
  url: string;
  close(): Promise<void>;
}

/** One phase: rounds of concurrent calls through the proxy beside as many straight to the fake upstream. */
export interface ProxyPhase {
  /** unlimited: the users' plan can refuse nothing, so no reservation is made; limited: every call reserves */
  plan: 'unlimited' | 'limited';
  directTtfbMs: { p50: number; p95: number; max: number };
  proxiedTtfbMs: { p50: number; p95: number; max: number };
  /** proxied p95 − direct p95 */
  addedTtfbP95Ms: number;
  /** whole streams, start to end, through the proxy */
  proxiedStreamMs: { p50: number; p95: number };
  failures: number;
  calls: number;
  loadAverage1m: number;
  /** the service's RSS at the end of the phase */
  rssMBAfter: number;
  /** transactions the database committed during the phase, per proxied call (each a round trip that can wait) */
  transactionsPerCall: number;
}

export interface ProxyResult {
  concurrency: number;
  secondsPerPhase: number;
  phases: ProxyPhase[];
  recordsStored: number;
  callsMade: number;
  rssMB: { afterWarmUp: number; afterRounds: number; peak: number };
  /** CPU seconds of the service over the measured rounds, per proxied call in ms */
  serviceCpuMsPerCall: number;
}

const agent = new Agent({ connections: 1024, keepAliveTimeout: 30_000 });
const STREAM_MS = 500;
const BODY = JSON.stringify({
  model: 'gpt-4o',
  messages: [{ role: 'user', content: 'Say hello in five words.' }],
  max_tokens: 64,
  stream: true,
});

/** One streamed call: time to the first body byte and to the end, in ms. */
async function streamOnce(url: string, headers: Record<string, string>): Promise<{ ttfb: number; total: number }> {
  const started = performance.now();
  const response = await request(url, { method: 'POST', headers, body: BODY, dispatcher: agent });
  let ttfb = -1;
  for await (const _chunk of response.body) if (ttfb < 0) ttfb = performance.now() - started;
  if (response.statusCode !== 200) throw new Error(`status ${response.statusCode}`);
  return { ttfb, total: performance.now() - started };
}

/** The fake upstream the service's OPENAI_UPSTREAM_URL points to (`${url}/v1`); started before the service. */
export async function startBenchUpstream(): Promise<BenchUpstream> {
  // from the repository's root, where `--import tsx` resolves, whatever folder the bench runs in
  const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'bench', 'fake-upstream-process.ts')], {
    cwd: REPO_ROOT,
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const exited = once(child, 'exit');
  const [line] = (await Promise.race([
    once(createInterface({ input: child.stdout! }), 'line'),
    exited.then(([code]) => {
      throw new Error(`the fake upstream exited (${String(code)}) before it listened`);
    }),
  ])) as [string];
  return {
    url: line.trim(),
    close: async () => {
      if (child.exitCode !== null) return;
      child.stdin!.end();
      await exited;
    },
  };
}

export async function runProxy(
  service: RunningService,
  fake: BenchUpstream,
  options: {
    concurrency: number;
    seconds: number;
    countRecords: () => Promise<number>;
    /** transactions the service's database has committed so far */
    countTransactions: () => Promise<number>;
  },
): Promise<ProxyResult> {
  const key = await createApiKey(service);
  const users = await setUpPlans(service, options.concurrency);
  const direct = `${fake.url}/v1/chat/completions`;
  const proxied = `${service.baseUrl}/proxy/openai/v1/chat/completions`;
  const directHeaders = { 'content-type': 'application/json', authorization: 'Bearer sk-bench', 'x-fake': 'paced' };
  const proxiedHeaders = (user: string) => ({ ...directHeaders, 'x-tokentally-key': key, 'x-tokentally-user': user });
  let callsMade = 0;

  /** Both kinds of slots for `seconds`; samples only when `into` is given. */
  const phase = async (seconds: number, userOf: (j: number) => string, into?: Samples): Promise<void> => {
    const end = performance.now() + seconds * 1000;
    const slot = async (call: () => Promise<{ ttfb: number; total: number }>, ttfb: number[], total?: number[]) => {
      await new Promise((resolve) => setTimeout(resolve, Math.random() * STREAM_MS));
      while (performance.now() < end) {
        try {
          const timing = await call();
          ttfb.push(timing.ttfb);
          total?.push(timing.total);
        } catch (error) {
          if (!into) throw error;
          into.failures += 1;
        }
      }
    };
    const sink: Samples = into ?? { directTtfb: [], proxiedTtfb: [], proxiedTotal: [], failures: 0 };
    await Promise.all(
      Array.from({ length: options.concurrency }, (_, j) => [
        slot(
          () => {
            callsMade += 1;
            return streamOnce(proxied, proxiedHeaders(userOf(j)));
          },
          sink.proxiedTtfb,
          sink.proxiedTotal,
        ),
        slot(() => streamOnce(direct, directHeaders), sink.directTtfb),
      ]).flat(),
    );
  };

  // warm-up: the tokenizer's ranks (loaded at the first call), connections, the JIT, the
  // users' limits
  await streamOnce(proxied, proxiedHeaders(users.unlimited(0)));
  callsMade += 1;
  await phase(3, users.unlimited);
  await phase(3, users.limited);
  const afterWarmUp = memoryOf(service.pid).rssMB;

  const cpuBefore = cpuSecondsOf(service.pid);
  const callsBefore = callsMade;
  const phases: ProxyPhase[] = [];
  for (const plan of ['unlimited', 'limited'] as const) {
    const samples: Samples = { directTtfb: [], proxiedTtfb: [], proxiedTotal: [], failures: 0 };
    note(`proxy: ${options.concurrency} streams in flight through the proxy for ${options.seconds} s (${plan} plan)`);
    const transactionsBefore = await options.countTransactions();
    await phase(options.seconds, users[plan], samples);
    // the bench's own two reads of the counter count too: negligible beside thousands of calls
    const transactions = (await options.countTransactions()) - transactionsBefore;
    phases.push({
      ...phaseOf(plan, samples),
      rssMBAfter: round1(memoryOf(service.pid).rssMB),
      transactionsPerCall: round1(transactions / Math.max(1, samples.proxiedTtfb.length), 2),
    });
  }
  const memory = memoryOf(service.pid);
  const serviceCpuMsPerCall = ((cpuSecondsOf(service.pid) - cpuBefore) * 1000) / (callsMade - callsBefore);
  let recordsStored = 0;
  for (let wait = 0; wait < 100 && recordsStored < callsMade; wait += 1) {
    recordsStored = await options.countRecords();
    if (recordsStored < callsMade) await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    concurrency: options.concurrency,
    secondsPerPhase: options.seconds,
    phases,
    recordsStored,
    callsMade,
    rssMB: { afterWarmUp: round1(afterWarmUp), afterRounds: round1(memory.rssMB), peak: round1(memory.hwmMB) },
    serviceCpuMsPerCall: round1(serviceCpuMsPerCall, 2),
  };
}

interface Samples {
  directTtfb: number[];
  proxiedTtfb: number[];
  proxiedTotal: number[];
  failures: number;
}

function phaseOf(plan: ProxyPhase['plan'], samples: Samples): Omit<ProxyPhase, 'rssMBAfter' | 'transactionsPerCall'> {
  const d = percentiles(samples.directTtfb);
  const p = percentiles(samples.proxiedTtfb);
  const total = percentiles(samples.proxiedTotal);
  const ms = (v: number) => round1(v, 2);
  return {
    plan,
    directTtfbMs: { p50: ms(d.p50), p95: ms(d.p95), max: ms(d.max) },
    proxiedTtfbMs: { p50: ms(p.p50), p95: ms(p.p95), max: ms(p.max) },
    addedTtfbP95Ms: ms(p.p95 - d.p95),
    proxiedStreamMs: { p50: ms(total.p50), p95: ms(total.p95) },
    failures: samples.failures,
    calls: samples.proxiedTtfb.length,
    loadAverage1m: round1(loadavg()[0]!, 2),
  };
}

async function createApiKey(service: RunningService): Promise<string> {
  const response = await fetch(`${service.baseUrl}/v1/admin/api-keys`, {
    method: 'POST',
    headers: { authorization: `Bearer ${service.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'bench proxy' }),
  });
  if (response.status !== 201) throw new Error(`creating an API key: ${response.status} ${await response.text()}`);
  return ((await response.json()) as { key: string }).key;
}

/**
 * Two sets of users: on the default plan, which has no limits (the proxy makes no reservation
 * for them), and on a hard plan whose limit is never reached (every call reserves its estimate
 * and releases it after its record is stored).
 */
async function setUpPlans(
  service: RunningService,
  count: number,
): Promise<{ unlimited: (j: number) => string; limited: (j: number) => string }> {
  const admin = { authorization: `Bearer ${service.token}`, 'content-type': 'application/json' };
  const post = async (url: string, method: string, body: object): Promise<{ id: string }> => {
    const response = await fetch(`${service.baseUrl}${url}`, { method, headers: admin, body: JSON.stringify(body) });
    if (response.status >= 300) throw new Error(`${method} ${url}: ${response.status} ${await response.text()}`);
    return (await response.json()) as { id: string };
  };
  await post('/v1/admin/plans', 'POST', { name: 'bench-unlimited', isDefault: true });
  const limited = await post('/v1/admin/plans', 'POST', {
    name: 'bench-limited',
    monthlyTokenLimit: 1_000_000_000_000,
  });
  const users = Math.max(1, Math.min(50, count));
  for (let i = 0; i < users; i += 1) {
    await post(`/v1/admin/users/bench-limited-${i}/plan`, 'PUT', { planId: limited.id });
  }
  return { unlimited: (j) => `bench-user-${j % users}`, limited: (j) => `bench-limited-${j % users}` };
}

export function proxyReport(r: ProxyResult): string[] {
  return [
    `Proxy: ${r.concurrency} streamed chat completions in flight through the proxy (and as many direct), ${r.secondsPerPhase} s per plan`,
    ...r.phases.flatMap((p) => [
      `  ${p.plan} plan (load ${p.loadAverage1m}; ${p.calls} calls through the proxy; service RSS after it ${p.rssMBAfter} MB):`,
      `    time to first byte, direct to the fake upstream: p50 ${p.directTtfbMs.p50} ms, p95 ${p.directTtfbMs.p95} ms, max ${p.directTtfbMs.max} ms`,
      `    time to first byte, through the proxy:           p50 ${p.proxiedTtfbMs.p50} ms, p95 ${p.proxiedTtfbMs.p95} ms, max ${p.proxiedTtfbMs.max} ms`,
      `    added p95 ${p.addedTtfbP95Ms} ms (target ≤ ${PROXY_TARGETS.addedTtfbP95Ms} ms); whole stream through the proxy p50 ${p.proxiedStreamMs.p50} ms, p95 ${p.proxiedStreamMs.p95} ms; failures ${p.failures}`,
      `    database transactions per proxied call: ${p.transactionsPerCall}`,
    ]),
    `  service CPU ${r.serviceCpuMsPerCall} ms per proxied call (forwarding, streaming, recording)`,
    `  records stored ${r.recordsStored} of ${r.callsMade} calls; service RSS ${r.rssMB.afterWarmUp} MB after warm-up → ${r.rssMB.afterRounds} MB after both phases (peak ${r.rssMB.peak} MB)`,
  ];
}
