/**
 * The proxy under concurrent streaming calls: rounds of N chat completions started at once,
 * each streamed through the proxy to the fake upstream (test/support/fake-upstream.ts, in
 * this process), and — in the same round, interleaved — N straight to the fake upstream. The
 * time to the first byte of the answer's body is measured on both; the proxy's added time is
 * the difference of their p95. The service's RSS is read after the warm-up and after the last
 * round: streams pass through, so it should stay flat.
 */
import { loadavg } from 'node:os';
import { Agent, request } from 'undici';
import { startFakeUpstream, type FakeUpstream } from '../test/support/fake-upstream';
import { note } from './progress';
import { memoryOf, type RunningService } from './service';
import { percentiles, round } from './stats';

export const PROXY_TARGETS = { addedTtfbP95Ms: 5 } as const;

export interface ProxyResult {
  concurrency: number;
  rounds: number;
  directTtfbMs: { p50: number; p95: number; max: number };
  proxiedTtfbMs: { p50: number; p95: number; max: number };
  /** proxied p95 − direct p95 */
  addedTtfbP95Ms: number;
  /** whole streams, start to end, through the proxy */
  proxiedStreamMs: { p50: number; p95: number };
  failures: number;
  recordsStored: number;
  rssMB: { afterWarmUp: number; afterRounds: number; peak: number };
  loadAverage1m: number;
}

/** Calls the warm-up makes through the proxy (all recorded too). */
export const WARM_UP_CALLS = (concurrency: number): number => 11 + 3 * concurrency;

const agent = new Agent({ connections: 512, keepAliveTimeout: 30_000 });
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
export const startBenchUpstream = (): Promise<FakeUpstream> => startFakeUpstream();

export async function runProxy(
  service: RunningService,
  fake: FakeUpstream,
  options: { concurrency: number; rounds: number; countRecords: () => Promise<number> },
): Promise<ProxyResult> {
  const key = await createApiKey(service);
  await roomyDefaultPlan(service);
  const direct = `${fake.url}/v1/chat/completions`;
  const proxied = `${service.baseUrl}/proxy/openai/v1/chat/completions`;
  const directHeaders = { 'content-type': 'application/json', authorization: 'Bearer sk-bench' };
  const proxiedHeaders = (i: number) => ({
    ...directHeaders,
    'x-tokentally-key': key,
    'x-tokentally-user': `bench-user-${i % 50}`,
  });

  // warm-up: the tokenizer's ranks (loaded at the first call), connections, the JIT; growing
  // to the full concurrency so that a cold service is not measured
  for (const width of [1, 10, options.concurrency, options.concurrency, options.concurrency]) {
    await Promise.all(
      Array.from({ length: width }, (_, j) =>
        Promise.all([streamOnce(proxied, proxiedHeaders(j)), streamOnce(direct, directHeaders)]),
      ),
    );
  }
  const afterWarmUp = memoryOf(service.pid).rssMB;

  const directTtfb: number[] = [];
  const proxiedTtfb: number[] = [];
  const proxiedTotal: number[] = [];
  let failures = 0;
  for (let round_ = 0; round_ < options.rounds; round_ += 1) {
    await Promise.all(
      Array.from({ length: options.concurrency }, async (_, j) => {
        const [viaProxy, straight] = await Promise.allSettled([
          streamOnce(proxied, proxiedHeaders(j)),
          streamOnce(direct, directHeaders),
        ]);
        if (viaProxy.status === 'fulfilled') {
          proxiedTtfb.push(viaProxy.value.ttfb);
          proxiedTotal.push(viaProxy.value.total);
        } else failures += 1;
        if (straight.status === 'fulfilled') directTtfb.push(straight.value.ttfb);
        else failures += 1;
      }),
    );
    if ((round_ + 1) % 5 === 0) note(`proxy: ${round_ + 1}/${options.rounds} rounds of ${options.concurrency}`);
  }
  const memory = memoryOf(service.pid);
  const expected = WARM_UP_CALLS(options.concurrency) + options.rounds * options.concurrency;
  let recordsStored = 0;
  for (let wait = 0; wait < 100 && recordsStored < expected; wait += 1) {
    recordsStored = await options.countRecords();
    if (recordsStored < expected) await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const d = percentiles(directTtfb);
  const p = percentiles(proxiedTtfb);
  const total = percentiles(proxiedTotal);
  const ms = (v: number) => round(v, 2);
  return {
    concurrency: options.concurrency,
    rounds: options.rounds,
    directTtfbMs: { p50: ms(d.p50), p95: ms(d.p95), max: ms(d.max) },
    proxiedTtfbMs: { p50: ms(p.p50), p95: ms(p.p95), max: ms(p.max) },
    addedTtfbP95Ms: ms(p.p95 - d.p95),
    proxiedStreamMs: { p50: ms(total.p50), p95: ms(total.p95) },
    failures,
    recordsStored,
    rssMB: { afterWarmUp: round(afterWarmUp), afterRounds: round(memory.rssMB), peak: round(memory.hwmMB) },
    loadAverage1m: round(loadavg()[0]!, 2),
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

/** Every bench user on a plan that never refuses: the part measures forwarding, not refusals. */
async function roomyDefaultPlan(service: RunningService): Promise<void> {
  const response = await fetch(`${service.baseUrl}/v1/admin/plans`, {
    method: 'POST',
    headers: { authorization: `Bearer ${service.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'bench-proxy', monthlyTokenLimit: 1_000_000_000_000, isDefault: true }),
  });
  if (response.status !== 201) throw new Error(`creating a plan: ${response.status} ${await response.text()}`);
}

export function proxyReport(r: ProxyResult): string[] {
  return [
    `Proxy: ${r.rounds} rounds of ${r.concurrency} concurrent streamed chat completions (load ${r.loadAverage1m})`,
    `  time to first byte, direct to the fake upstream: p50 ${r.directTtfbMs.p50} ms, p95 ${r.directTtfbMs.p95} ms, max ${r.directTtfbMs.max} ms`,
    `  time to first byte, through the proxy:           p50 ${r.proxiedTtfbMs.p50} ms, p95 ${r.proxiedTtfbMs.p95} ms, max ${r.proxiedTtfbMs.max} ms`,
    `  added p95 ${r.addedTtfbP95Ms} ms (target ≤ ${PROXY_TARGETS.addedTtfbP95Ms} ms); whole stream through the proxy p50 ${r.proxiedStreamMs.p50} ms, p95 ${r.proxiedStreamMs.p95} ms`,
    `  failures ${r.failures}; records stored ${r.recordsStored}; service RSS ${r.rssMB.afterWarmUp} MB after warm-up → ${r.rssMB.afterRounds} MB after the rounds (peak ${r.rssMB.peak} MB)`,
  ];
}
