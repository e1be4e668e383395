/** The table on stdout and bench/results.json. */
import type { RepricingResult } from './repricing';
import { writeFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem, type } from 'node:os';
import { join } from 'node:path';
import type { CopyResult } from './copy-baseline';
import type { Scenario, Shape } from './dataset';
import { exportReport, type ExportResult } from './export';
import { PROXY_TARGETS, proxyReport, type ProxyResult } from './proxy';
import type { IngestResult } from './ingest';
import type { BenchOptions } from './options';
import type { ProfileSummary } from './profile';
import type { EndpointResult } from './queries';
import type { QueryDataset } from './query-dataset';
import { RESERVATION_TARGETS, reservationReport, type ReservationsResult } from './reservations';
import { round } from './stats';

export const TARGETS = {
  ingestRatio: { target: 0.35, goal: 0.5 },
  /** the service's peak resident memory while ingesting at full speed */
  peakRssMB: { target: 250 },
  p95Ms: { target: 30, goal: 20 },
  /** never slower than the naive GROUP BY over the raw records: our p95 against its p50 */
  speedup: { target: 1, goal: 20 },
  /** quota reservations: client-side p99, and tokens granted past a hard limit */
  reservations: RESERVATION_TARGETS,
  /** the proxy: added time to first byte, p95, against the fake upstream called directly */
  proxy: PROXY_TARGETS,
};

/** One HTTP ingest and the binary COPY of the same rows. */
export interface IngestRun {
  shape: Shape;
  scenario: Scenario;
  http: IngestResult;
  /** CPU seconds during the HTTP ingest (until folded) */
  cpuSeconds: { service: number; postgres: number | null };
  copy: CopyResult;
  /** HTTP records/s ÷ COPY rows/s */
  ratio: number;
  /** 1-minute load average at the end of the HTTP ingest */
  loadAverage1m: number;
  profile?: ProfileSummary;
}

export interface Results {
  date: string;
  options: Omit<BenchOptions, 'databaseUrl'> & { database: string };
  machine: ReturnType<typeof machineInfo> & { loadAverageAtEnd?: number[] };
  postgres?: { version: string; settings: Record<string, string> };
  phasesSeconds: Record<string, number>;
  /** 1-minute load average at the end of each phase: how busy the shared machine was */
  loadAverage1mAfter: Record<string, number>;
  ingest: IngestRun[];
  queries: Array<{
    shape: Shape;
    rawRetentionDays: number;
    partitions: number;
    dataset: QueryDataset;
    endpoints: EndpointResult[];
  }>;
  reservations?: ReservationsResult;
  export?: ExportResult;
  proxy?: ProxyResult;
  repricing?: RepricingResult;
  targets: typeof TARGETS;
  warnings: string[];
  failure?: string;
}

/**
 * Where the time of an HTTP ingest goes: CPU profiles of the service (--profile), the
 * backend samples, and the ingest path's steps timed alone on one core. Measured on the
 * 2-core bench machine on 2026-12-04 with 200k records per run, and 1M on 2026-12-06; the numbers move
 * with load.
 */
const NOTES = [
  'A batch of 1000 records takes ~200-240 ms (p50) with 4 clients on 2 cores; PostgreSQL runs its ingest',
  "statement for most of it (backend s / batches), a fifth of that waiting for the busiest users' quota",
  'counts. The fold keeps ~0.8 of a core busy beside it (backend s of the fold / ours s); with one ingest',
  'statement at a time (INGEST_STATEMENTS, half the cores) it stays within 0.4-2.3 s of the last answer (4-33 s',
  'behind on backfills with 2-4 at once). PostgreSQL uses 4-7x the CPU seconds of the service (84-140 against ~19-22 us per',
  'record at 1M records, 2026-12-06 evening; 130-145 before retries in flight waited in the service and the',
  'batch went as tab-separated text instead of JSON objects, which PostgreSQL read at ~25 us per record).',
  "The service's CPU was ~25-30 us per record, 35-40% of it pg writing the statement's 18 arrays as text",
  '(~3 us and ~4.4 KB of garbage per record alone); the batch now goes as one text parameter (about the',
  'cost of JSON.stringify: ~0.6 us and 0.2 KB) and the service uses ~17-22 us per record. The rest: garbage collection ~20%, HTTP',
  '~13%, JSON parse ~9%, domain records and pricing ~9%, per-record checks ~8% (3.1 -> 1.2 us per record).',
  "Peak RSS: a batch in flight keeps its records and the statement's parameters for the length of the",
  'statement, and V8 grows the old generation before a full collection; run compiled, with the growth',
  'limited, the service peaked at 201-207 MB at 1M records (2026-12-06; 305-325 MB before) and 197-198 MB at',
  '200k.',
];

export function machineInfo(): {
  cpuModel: string;
  cpus: number;
  totalMemoryGB: number;
  os: string;
  node: string;
  loadAverageAtStart: number[];
} {
  return {
    cpuModel: cpus()[0]?.model ?? 'unknown',
    cpus: cpus().length,
    totalMemoryGB: round(totalmem() / 1024 ** 3, 1),
    os: `${type()} ${release()}`,
    node: process.version,
    loadAverageAtStart: loadavg().map((l) => round(l, 2)),
  };
}

const grade = (ok: boolean, goal: boolean): string => (goal ? 'PASS (goal)' : ok ? 'PASS' : 'FAIL');
const num = (n: number, digits = 0): string =>
  Number.isFinite(n)
    ? n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })
    : '-';

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows
    .map((r) => r.map((cell, c) => (c < 2 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  '))
    .join('\n');
}

export function printReport(r: Results): void {
  const out: string[] = [];
  const m = r.machine;
  out.push(
    `Tokentally bench, ${r.date}`,
    `machine: ${m.cpuModel} x ${m.cpus}, ${m.totalMemoryGB} GB, ${m.os}, node ${m.node}, PostgreSQL ${r.postgres?.version ?? '?'} (${r.options.database})`,
    `load average at start: ${m.loadAverageAtStart.join(' ')} (the cores are shared: numbers may be noisy)`,
    '',
  );
  if (r.ingest.length > 0) {
    const o = r.options;
    const first = r.ingest[0]!;
    out.push(
      `Ingest: ${num(o.records)} records + ${num(first.http.duplicatesSent)} re-sent per run, ${o.clients} clients, batches of ${o.batch}; RAW_RETENTION_DAYS ${o.rawRetentionDays} (${first.copy.partitions} partitions)`,
      `  ours: over HTTP until every record is folded into the rollups; COPY: binary, same rows into the same tables and keys (raw partitions + dedup ledger), fresh database, 2 connections`,
      `  live: records of the last hour; backfill: the last 30 days. backend s: PostgreSQL backends active in the ingest statement / the fold (sampled)`,
      `  WAL: written per record by ingest and the fold / by COPY; FPI: full-page images per record (ours); forced ckpt: checkpoints max_wal_size forced during ours`,
    );
    const rows = [
      [
        'shape',
        'scenario',
        'ours rec/s',
        'COPY rows/s',
        'ours/COPY',
        `>=${TARGETS.ingestRatio.target}`,
        'ours s',
        'fold lag s',
        'batch p50/p95 ms',
        'peak RSS MB',
        `<=${TARGETS.peakRssMB.target}`,
        'CPU s svc/PG',
        'backend s',
        'WAL KB/rec ours/COPY',
        'FPI/rec',
        'forced ckpt',
        'load',
      ],
    ];
    for (const run of r.ingest) {
      const i = run.http;
      rows.push([
        run.shape,
        run.scenario,
        num(i.recordsPerSecond),
        num(run.copy.rowsPerSecond),
        num(run.ratio, 2),
        grade(run.ratio >= TARGETS.ingestRatio.target, run.ratio >= TARGETS.ingestRatio.goal),
        num(i.seconds, 1),
        num(i.foldLagSeconds, 1),
        `${num(i.batchLatencyMs.p50)}/${num(i.batchLatencyMs.p95)}`,
        `${num(i.peakRssMB)} (idle ${num(i.rssIdleMB)})`,
        grade(i.peakRssMB <= TARGETS.peakRssMB.target, false),
        `${num(run.cpuSeconds.service, 1)}/${run.cpuSeconds.postgres === null ? '-' : num(run.cpuSeconds.postgres, 1)}`,
        `${num(i.backendSeconds.ingest, 1)}/${num(i.backendSeconds.fold, 1)}`,
        `${num(i.wal.kBPerRecord, 2)}/${num(run.copy.wal.kBPerRecord, 2)}`,
        num(i.wal.fullPageImagesPerRecord, 3),
        num(i.wal.checkpointsRequested),
        num(run.loadAverage1m, 2),
      ]);
    }
    out.push(table(rows), '  every run: raw rows, ledger and every rollup equal a GROUP BY of the raw rows', '');
    for (const run of r.ingest.filter((x) => x.profile)) {
      const p = run.profile!;
      out.push(
        `  service CPU while ingesting (${run.shape}, ${run.scenario}), ${num(p.busySeconds, 1)} s, ${num((p.busySeconds / run.http.sent) * 1e6, 1)} µs per record sent:`,
        ...p.parts.map((part) => `    ${num((100 * part.seconds) / p.busySeconds, 1).padStart(5)}%  ${part.part}`),
      );
    }
    out.push('notes:', ...NOTES.map((line) => `  ${line}`), '');
  }
  for (const { shape, rawRetentionDays, partitions, dataset: d, endpoints } of r.queries) {
    out.push(
      `Usage tab endpoints, shape ${shape}, raw retention ${rawRetentionDays} days (${partitions} raw partitions): ${num(d.rows)} raw rows (1k users, 60 models, 90 days); tz Europe/Berlin (IST: Asia/Kolkata), granularity day; ${r.options.repeat} calls each, raw baseline ${r.options.rawRepeat} runs; folded by the service's fold in ${num(d.foldSeconds, 1)} s (${num(d.pendingRows / d.foldSeconds)} pending rows/s)`,
      `  rollup rows: ${Object.entries(d.rollupRows)
        .map(([t, n]) => `${t} ${num(n)}`)
        .join(', ')}`,
    );
    const rows = [
      [
        'endpoint',
        'range',
        'p50 ms',
        'p95 ms',
        'max ms',
        'raw p50 ms',
        'speed-up',
        `p95<=${TARGETS.p95Ms.target}ms`,
        'p95<=raw p50',
        'totals',
      ],
    ];
    for (const e of endpoints) {
      const l = e.latencyMs;
      const ok = e.status === 'ok' && l !== null;
      rows.push([
        e.name,
        e.range,
        ok ? num(l.p50, 1) : e.status,
        ok ? num(l.p95, 1) : '',
        ok ? num(l.max, 1) : '',
        num(e.rawMs.p50, 1),
        e.speedup === null ? '' : `${num(e.speedup, 1)}x`,
        ok ? grade(l.p95 <= TARGETS.p95Ms.target, l.p95 <= TARGETS.p95Ms.goal) : e.status,
        !ok ? e.status : !e.speedupApplies ? 'n/a' : grade(l.p95 <= e.rawMs.p50, e.speedup! >= TARGETS.speedup.goal),
        e.answer === undefined
          ? ''
          : e.answer === 'matches raw'
            ? '= raw'
            : e.answer.startsWith('DIFFERS')
              ? 'DIFFER'
              : '?',
      ]);
    }
    out.push(
      table(rows),
      '  totals: "= raw" when the answer\'s totals.requests and totals.totalTokens equal a count over the raw rows',
      ...endpoints
        .filter((e) => e.plans)
        .map(
          (e) => `  ${e.name} (${e.range}) missed its bar: EXPLAIN (ANALYZE, BUFFERS) of its statements in ${e.plans}`,
        ),
      '',
    );
  }
  if (r.reservations) out.push(...reservationReport(r.reservations), '');
  if (r.export) out.push(...exportReport(r.export), '');
  if (r.proxy) out.push(...proxyReport(r.proxy), '');
  out.push('phases (seconds, 1-minute load average at the end):');
  const width = Math.max(...Object.keys(r.phasesSeconds).map((phase) => phase.length));
  for (const [phase, seconds] of Object.entries(r.phasesSeconds)) {
    const load = r.loadAverage1mAfter[phase];
    out.push(
      `  ${phase.padEnd(width)} ${num(seconds, 1).padStart(8)}${load === undefined ? '' : `  load ${num(load, 2)}`}`,
    );
  }
  for (const w of r.warnings) out.push(`warning: ${w}`);
  if (r.failure) out.push(`FAILED: ${r.failure}`);
  console.log(out.join('\n'));
}

export function writeResults(r: Results, dir: string): string {
  const path = join(dir, 'results.json');
  writeFileSync(path, `${JSON.stringify(r, null, 2)}\n`);
  return path;
}
