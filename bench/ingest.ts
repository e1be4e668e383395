/** POSTs the pre-serialised batches from several keep-alive clients and checks every answer. */
import { open } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import type pg from 'pg';
import { INGEST_STATEMENT_MARK } from '../src/infrastructure/persistence/pg-usage-repository';
import type { BatchFile } from './dataset';
import { Progress } from './progress';
import { memoryOf, type RunningService } from './service';
import { percentiles, type Percentiles } from './stats';
import { walCounts, walWritten, type WalWritten } from './wal';

export class ConsistencyError extends Error {
  override name = 'ConsistencyError';
}

export interface IngestResult {
  sent: number;
  duplicatesSent: number;
  /** from the first request until the rollups held every record (acknowledged + folded) */
  seconds: number;
  /** after the last answer, until the background fold had moved every pending record into the rollups */
  foldLagSeconds: number;
  /** unique records stored and folded into the rollups per second (what COPY is compared with) */
  recordsPerSecond: number;
  batchLatencyMs: Percentiles;
  rssIdleMB: number;
  /** VmHWM after the ingest: the service's peak resident memory (start-up included, which is lower) */
  peakRssMB: number;
  /**
   * Seconds PostgreSQL backends of this database spent active, sampled every 100 ms, by
   * statement: the ingest statement, the background fold and anything else (price lookups,
   * the fold's "anything pending?" look).
   */
  backendSeconds: { ingest: number; fold: number; other: number };
  /** what ingest and the fold wrote to the WAL, per unique record (a CHECKPOINT just before) */
  wal: WalWritten;
}

/** What each active backend of the database runs, counted by kind. */
const ACTIVITY = `
SELECT count(*) FILTER (WHERE starts_with(query, '${INGEST_STATEMENT_MARK}'))::int AS ingest,
       count(*) FILTER (WHERE query LIKE '%DELETE FROM usage_pending%'
                          AND NOT starts_with(query, '${INGEST_STATEMENT_MARK}'))::int AS fold,
       count(*)::int AS active
FROM pg_stat_activity
WHERE datname = current_database() AND state = 'active' AND pid <> pg_backend_pid()`;

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
 * Sends every batch, then waits until nothing is pending for the rollups any more (polling
 * usage_pending every 100 ms): the rate counts the time the background fold needs to catch
 * up, so that nothing is left for later. `db` is a connection to the service's database.
 */
export async function runIngest(
  file: BatchFile,
  service: Pick<RunningService, 'baseUrl' | 'token' | 'pid' | 'running' | 'output'>,
  clients: number,
  db: pg.Client,
): Promise<IngestResult> {
  const url = new URL('/v1/usage/records', service.baseUrl);
  const agent = new Agent({ keepAlive: true, maxSockets: clients });
  const handle = await open(file.path, 'r');
  const rssIdleMB = memoryOf(service.pid).rssMB;
  const walBefore = await walCounts(db);
  const backendSeconds = { ingest: 0, fold: 0, other: 0 };
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const row = (await db.query(ACTIVITY)).rows[0] as { ingest: number; fold: number; active: number };
      backendSeconds.ingest += row.ingest / 10;
      backendSeconds.fold += row.fold / 10;
      backendSeconds.other += (row.active - row.ingest - row.fold) / 10;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })().catch(() => undefined); // a failed sample only shortens the counts

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
  let acknowledgedSeconds = 0;
  try {
    await Promise.all(Array.from({ length: clients }, client));
    acknowledgedSeconds = (performance.now() - started) / 1000;
    progress.finish();
    for (;;) {
      const row = (await db.query(`SELECT count(*)::int AS n FROM usage_pending`)).rows[0] as { n: number };
      if (row.n === 0) break;
      if (!service.running()) throw new Error(`the service exited before it folded everything:\n${service.output()}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } finally {
    sampling = false;
    await sampler;
    agent.destroy();
    await handle.close();
  }
  const seconds = (performance.now() - started) / 1000;
  const unique = file.sent - file.duplicatesSent;
  const wal = walWritten(walBefore, await walCounts(db), unique);
  if (accepted !== unique || duplicates !== file.duplicatesSent) {
    throw new ConsistencyError(
      `the service accepted ${accepted} records and called ${duplicates} duplicates; expected ${unique} unique records and ${file.duplicatesSent} duplicates`,
    );
  }
  return {
    sent,
    duplicatesSent: file.duplicatesSent,
    seconds,
    foldLagSeconds: seconds - acknowledgedSeconds,
    recordsPerSecond: unique / seconds,
    batchLatencyMs: percentiles(latencies),
    rssIdleMB,
    peakRssMB: memoryOf(service.pid).hwmMB,
    backendSeconds,
    wal,
  };
}
