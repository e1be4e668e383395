/**
 * The export part: the query dataset's records (1M by default, loaded with SQL and folded by
 * the service's fold) exported by the real service over HTTP, while its RSS is sampled, beside
 * a plain `COPY (SELECT …) TO STDOUT` of the same rows (the same statement, CSV) on one
 * connection: the ceiling of reading those rows out of PostgreSQL at all.
 *
 * Runs: CSV and NDJSON records read as fast as the client can; CSV records with the reader
 * paused for a few seconds after the first chunk (a service that ignored backpressure would
 * read every row into memory meanwhile); the days (level=day), whose requests must add up to
 * the records. Each HTTP run's row count is checked against the COPY's.
 */
import { request } from 'node:http';
import { loadavg } from 'node:os';
import type pg from 'pg';
import pgCopy from 'pg-copy-streams';
import { exportColumns } from '../src/domain/usage-export';
import { recordStatement } from '../src/infrastructure/persistence/pg-usage-export';
import { connect } from './database';
import { WORKSPACE } from './dataset';
import { ConsistencyError } from './ingest';
import { note } from './progress';
import { memoryOf, type RunningService } from './service';
import { round } from './stats';

export const EXPORT_TARGETS = { rssGrowthMB: 50 };
const SAMPLE_EVERY_MS = 20;
const DAY_MS = 86_400_000;

export interface ExportRun {
  name: string;
  /** data rows (the CSV header not counted) */
  rows: number;
  bytes: number;
  seconds: number;
  rowsPerSecond: number;
  /** time to the first byte of the body */
  firstByteMs: number;
  /** the service's RSS before the run and its highest sample during it */
  rssBeforeMB: number;
  rssPeakMB: number;
  rssGrowthMB: number;
  loadAverage1m: number;
}

export interface ExportResult {
  records: number;
  range: { from: string; to: string };
  runs: ExportRun[];
  copy: { rows: number; bytes: number; seconds: number; rowsPerSecond: number; loadAverage1m: number };
  /** HTTP CSV records/s ÷ COPY rows/s */
  ratio: number;
  /** the service's VmHWM (peak RSS since it started) at the end */
  serviceHwmMB: number;
}

interface Reading {
  pauseAfterFirstChunkMs?: number;
  /** called with each chunk of the body */
  onChunk?: (chunk: Buffer) => void;
}

/** One export over HTTP, its body counted (lines) but not kept, the service's RSS sampled meanwhile. */
function exportOverHttp(
  service: RunningService,
  query: string,
  name: string,
  reading: Reading = {},
): Promise<ExportRun> {
  const rssBefore = memoryOf(service.pid).rssMB;
  let peak = rssBefore;
  const sampler = setInterval(() => {
    peak = Math.max(peak, memoryOf(service.pid).rssMB);
  }, SAMPLE_EVERY_MS);
  const started = performance.now();
  return new Promise<ExportRun>((resolve, reject) => {
    const req = request(`${service.baseUrl}/v1/admin/usage/export?${query}`, {
      headers: { authorization: `Bearer ${service.token}` },
    });
    req.on('error', (error) => {
      clearInterval(sampler);
      reject(error);
    });
    req.on('response', (res) => {
      if (res.statusCode !== 200) {
        clearInterval(sampler);
        res.resume();
        reject(new Error(`${name}: HTTP ${res.statusCode}`));
        return;
      }
      let firstByteMs = -1;
      let bytes = 0;
      let lines = 0;
      res.on('data', (chunk: Buffer) => {
        if (firstByteMs < 0) {
          firstByteMs = performance.now() - started;
          if (reading.pauseAfterFirstChunkMs) {
            res.pause();
            setTimeout(() => res.resume(), reading.pauseAfterFirstChunkMs);
          }
        }
        bytes += chunk.length;
        for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) lines += 1;
        reading.onChunk?.(chunk);
      });
      res.on('error', reject);
      res.on('end', () => {
        clearInterval(sampler);
        peak = Math.max(peak, memoryOf(service.pid).rssMB);
        const seconds = (performance.now() - started) / 1000;
        const rows = query.includes('format=ndjson') ? lines : lines - 1;
        resolve({
          name,
          rows,
          bytes,
          seconds: round(seconds, 2),
          rowsPerSecond: Math.round(rows / seconds),
          firstByteMs: round(firstByteMs, 1),
          rssBeforeMB: round(rssBefore),
          rssPeakMB: round(peak),
          rssGrowthMB: round(peak - rssBefore),
          loadAverage1m: round(loadavg()[0]!, 2),
        });
      });
    });
    req.end();
  });
}

/** `$n` parameters written in as literals: COPY takes none. */
function inlined(client: pg.Client, text: string, values: unknown[]): string {
  return text.replace(/\$(\d+)/g, (_m, n: string) => client.escapeLiteral(String(values[Number(n) - 1])));
}

/** The record export's own statement, under a plain COPY … TO STDOUT (CSV, header), bytes counted. */
async function copyOut(client: pg.Client, from: Date, to: Date): Promise<ExportResult['copy']> {
  const { text, values } = recordStatement({
    scope: { workspaceId: WORKSPACE, window: { from, to, timeZone: 'UTC', granularity: 'day' }, filter: {} },
    level: 'record',
    columns: exportColumns('record', true),
  });
  const started = performance.now();
  const stream = client.query(pgCopy.to(`COPY (${inlined(client, text, values)}) TO STDOUT WITH (FORMAT csv, HEADER)`));
  let bytes = 0;
  let lines = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    bytes += chunk.length;
    for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) lines += 1;
  }
  const seconds = (performance.now() - started) / 1000;
  // a line break inside a quoted cell would count twice; the bench's errors have none
  const rows = lines - 1;
  return {
    rows,
    bytes,
    seconds: round(seconds, 2),
    rowsPerSecond: Math.round(rows / seconds),
    loadAverage1m: round(loadavg()[0]!, 2),
  };
}

/** Adds up a column of NDJSON lines as they stream by. */
function summing(key: string): { onChunk: (chunk: Buffer) => void; total: () => number } {
  let rest = '';
  let total = 0;
  const take = (line: string): void => {
    if (line !== '') total += Number((JSON.parse(line) as Record<string, unknown>)[key]);
  };
  return {
    onChunk(chunk) {
      const lines = (rest + chunk.toString('utf8')).split('\n');
      rest = lines.pop()!;
      lines.forEach(take);
    },
    total: () => {
      take(rest);
      return total;
    },
  };
}

export async function runExport(
  databaseUrl: string,
  service: RunningService,
  dataset: { rows: number; start: string },
  pauseMs: number,
): Promise<ExportResult> {
  // whole UTC days around the dataset, far less than the two years an export may span
  const from = new Date(Math.floor(Date.parse(dataset.start) / DAY_MS) * DAY_MS);
  const to = new Date((Math.floor(Date.now() / DAY_MS) + 1) * DAY_MS);
  const range = `from=${from.toISOString()}&to=${to.toISOString()}`;
  const client = await connect(databaseUrl);
  try {
    // a small export first: the route's code is loaded and compiled before anything is measured
    await exportOverHttp(
      service,
      `from=${from.toISOString()}&to=${new Date(from.getTime() + DAY_MS).toISOString()}`,
      'warm-up',
    );
    const runs: ExportRun[] = [];
    const run = async (query: string, name: string, reading?: Reading): Promise<ExportRun> => {
      note(`export: ${name}`);
      const result = await exportOverHttp(service, query, name, reading);
      note(
        `  ${result.rows} rows, ${round(result.bytes / 1048576)} MB in ${result.seconds} s (${result.rowsPerSecond} rows/s); RSS +${result.rssGrowthMB} MB`,
      );
      runs.push(result);
      return result;
    };
    await run(range, 'records, CSV');
    await run(`${range}&format=ndjson`, 'records, NDJSON');
    await run(range, `records, CSV, reader paused ${pauseMs / 1000} s after the first chunk`, {
      pauseAfterFirstChunkMs: pauseMs,
    });
    const requests = summing('requests');
    await run(`${range}&level=day&format=ndjson`, 'days, NDJSON', { onChunk: requests.onChunk });

    note('export: COPY (SELECT …) TO STDOUT of the same rows');
    const copy = await copyOut(client, from, to);
    note(`  ${copy.rows} rows, ${round(copy.bytes / 1048576)} MB in ${copy.seconds} s (${copy.rowsPerSecond} rows/s)`);

    for (const r of runs.filter((x) => x.name.startsWith('records'))) {
      if (r.rows !== copy.rows) throw new ConsistencyError(`export ${r.name}: ${r.rows} rows, COPY ${copy.rows}`);
    }
    if (copy.rows !== dataset.rows)
      throw new ConsistencyError(`export: COPY read ${copy.rows} rows of ${dataset.rows}`);
    if (requests.total() !== dataset.rows) {
      throw new ConsistencyError(`export days: requests add up to ${requests.total()}, not ${dataset.rows}`);
    }
    const csv = runs[0]!;
    return {
      records: dataset.rows,
      range: { from: from.toISOString(), to: to.toISOString() },
      runs,
      copy,
      ratio: round(csv.rowsPerSecond / copy.rowsPerSecond, 3),
      serviceHwmMB: round(memoryOf(service.pid).hwmMB),
    };
  } finally {
    await client.end();
  }
}

export function exportReport(r: ExportResult): string[] {
  const num = (n: number): string => n.toLocaleString('en-US');
  const out = [
    `Export: ${num(r.records)} records of ${r.range.from} – ${r.range.to} over HTTP from the service, RSS sampled every ${SAMPLE_EVERY_MS} ms; RSS growth target < ${EXPORT_TARGETS.rssGrowthMB} MB`,
  ];
  for (const run of r.runs) {
    out.push(
      `  ${run.name}: ${num(run.rows)} rows, ${num(round(run.bytes / 1048576))} MB in ${run.seconds} s = ${num(run.rowsPerSecond)} rows/s, first byte ${run.firstByteMs} ms; RSS ${run.rssBeforeMB} → peak ${run.rssPeakMB} MB (+${run.rssGrowthMB}) ${run.rssGrowthMB < EXPORT_TARGETS.rssGrowthMB ? 'PASS' : 'FAIL'}; load ${run.loadAverage1m}`,
    );
  }
  out.push(
    `  COPY (same SELECT) TO STDOUT, CSV: ${num(r.copy.rows)} rows, ${num(round(r.copy.bytes / 1048576))} MB in ${r.copy.seconds} s = ${num(r.copy.rowsPerSecond)} rows/s; load ${r.copy.loadAverage1m}`,
    `  HTTP CSV ÷ COPY: ${r.ratio}; the service's peak RSS since start ${r.serviceHwmMB} MB`,
  );
  return out;
}
