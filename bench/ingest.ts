/** POSTs the pre-serialised batches from several keep-alive clients and checks every answer. */
import { open } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import type { BatchFile } from './dataset';
import { Progress } from './progress';
import { memoryOf } from './service';
import { percentiles, type Percentiles } from './stats';

export class ConsistencyError extends Error {
  override name = 'ConsistencyError';
}

export interface IngestResult {
  clients: number;
  batches: number;
  sent: number;
  duplicatesSent: number;
  accepted: number;
  duplicates: number;
  /** from the first request until the rollups held every record (acknowledged + folded) */
  seconds: number;
  /** until the last request was answered */
  acknowledgedSeconds: number;
  /** after that, until the background fold had moved every pending record into the rollups */
  foldLagSeconds: number;
  /** unique records stored and folded into the rollups per second (what COPY is compared with) */
  recordsPerSecond: number;
  /** records sent per second, re-sent duplicates included */
  sentPerSecond: number;
  batchLatencyMs: Percentiles;
  rssIdleMB: number;
  /** highest VmRSS sampled every 100 ms during the ingest */
  peakRssMB: number;
  /** VmHWM after the ingest: the peak over the service's whole life, start-up included */
  vmHwmMB: number;
}

interface Answer {
  status: number;
  body: string;
}

function post(agent: Agent, url: URL, token: string, body: Buffer): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        agent,
        method: 'POST',
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/json',
          'content-length': body.length,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.setTimeout(300_000, () => req.destroy(new Error('no answer within 300 s')));
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * `untilFolded` resolves when no usage is pending for the rollups any more: the rate counts
 * the time the background fold needs to catch up, so that nothing is left for later.
 */
export async function runIngest(
  file: BatchFile,
  service: { baseUrl: string; token: string; pid: number },
  clients: number,
  untilFolded: () => Promise<void>,
): Promise<IngestResult> {
  const url = new URL('/v1/usage/records', service.baseUrl);
  const agent = new Agent({ keepAlive: true, maxSockets: clients });
  const handle = await open(file.path, 'r');
  const rssIdleMB = memoryOf(service.pid).rssMB;
  let peakRssMB = rssIdleMB;
  const sampler = setInterval(() => {
    try {
      peakRssMB = Math.max(peakRssMB, memoryOf(service.pid).rssMB);
    } catch {
      // the service is gone; the next request reports it
    }
  }, 100);

  const progress = new Progress(`ingesting over HTTP (${clients} clients)`, file.sent);
  const latencies: number[] = [];
  let next = 0;
  let sent = 0;
  let accepted = 0;
  let duplicates = 0;
  const started = performance.now();
  const client = async (): Promise<void> => {
    for (let b = next++; b < file.batches.length; b = next++) {
      const { offset, length, count } = file.batches[b]!;
      const body = Buffer.allocUnsafe(length);
      await handle.read(body, 0, length, offset);
      const t0 = performance.now();
      const answer = await post(agent, url, service.token, body);
      latencies.push(performance.now() - t0);
      if (answer.status !== 200) {
        throw new Error(`batch ${b}: HTTP ${answer.status}: ${answer.body.slice(0, 500)}`);
      }
      const result = JSON.parse(answer.body) as { accepted: number; duplicates: number; rejected: unknown[] };
      if (result.rejected.length > 0) {
        throw new ConsistencyError(
          `batch ${b}: ${result.rejected.length} records rejected, first: ${JSON.stringify(result.rejected[0])}`,
        );
      }
      if (result.accepted + result.duplicates !== count) {
        throw new ConsistencyError(
          `batch ${b}: sent ${count} records, but accepted ${result.accepted} + duplicates ${result.duplicates} = ${result.accepted + result.duplicates}`,
        );
      }
      sent += count;
      accepted += result.accepted;
      duplicates += result.duplicates;
      progress.update(sent);
    }
  };
  try {
    await Promise.all(Array.from({ length: clients }, client));
  } finally {
    clearInterval(sampler);
    agent.destroy();
    await handle.close();
  }
  const acknowledgedSeconds = (performance.now() - started) / 1000;
  progress.finish();
  await untilFolded();
  const seconds = (performance.now() - started) / 1000;
  const unique = file.sent - file.duplicatesSent;
  if (accepted !== unique || duplicates !== file.duplicatesSent) {
    throw new ConsistencyError(
      `the service accepted ${accepted} records and called ${duplicates} duplicates; expected ${unique} unique records and ${file.duplicatesSent} duplicates`,
    );
  }
  return {
    clients,
    batches: file.batches.length,
    sent,
    duplicatesSent: file.duplicatesSent,
    accepted,
    duplicates,
    seconds,
    acknowledgedSeconds,
    foldLagSeconds: seconds - acknowledgedSeconds,
    recordsPerSecond: unique / seconds,
    sentPerSecond: sent / acknowledgedSeconds,
    batchLatencyMs: percentiles(latencies),
    rssIdleMB,
    peakRssMB,
    vmHwmMB: memoryOf(service.pid).hwmMB,
  };
}
