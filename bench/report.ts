/** The table on stdout and bench/results.json. */
import { writeFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem, type } from 'node:os';
import { join } from 'node:path';
import type { CopyResult } from './copy-baseline';
import type { IngestResult } from './ingest';
import type { BenchOptions } from './options';
import type { EndpointResult } from './queries';
import type { QueryDataset } from './query-dataset';
import { round } from './stats';

export const TARGETS = {
  ingestRatio: { target: 0.25, goal: 0.5 },
  p95Ms: { target: 50, goal: 20 },
  speedup: { target: 20, goal: 50 },
};

export interface Results {
  date: string;
  options: Omit<BenchOptions, 'databaseUrl'> & { database: string };
  machine: ReturnType<typeof machineInfo> & { loadAverageAtEnd?: number[] };
  postgres?: { version: string; settings: Record<string, string> };
  phasesSeconds: Record<string, number>;
  /** 1-minute load average at the end of each phase: how busy the shared machine was */
  loadAverage1mAfter: Record<string, number>;
  ingest?: IngestResult & {
    cpuSeconds?: { service: number; postgres: number | null };
    rollupRows: Record<string, number>;
  };
  copy?: CopyResult;
  ingestToCopyRatio?: number;
  queryDataset?: QueryDataset;
  endpoints?: EndpointResult[];
  targets: typeof TARGETS;
  warnings: string[];
  failure?: string;
}

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
  if (r.ingest && r.copy) {
    const i = r.ingest;
    const ratio = r.ingestToCopyRatio ?? NaN;
    out.push(
      `Ingest: ${num(i.accepted)} records + ${num(i.duplicatesSent)} re-sent, ${i.clients} clients, ${num(i.batches)} batches of ${r.options.batch}`,
      `  ours over HTTP     ${num(i.recordsPerSecond).padStart(9)} records/s  (unique stored and folded into the rollups; ${num(i.seconds, 1)} s, of which ${num(i.foldLagSeconds, 1)} s folding after the last answer; ${num(i.sentPerSecond)} sent/s; batch p50 ${num(i.batchLatencyMs.p50)} ms, p95 ${num(i.batchLatencyMs.p95)} ms)`,
      `  COPY, 1 connection ${num(r.copy.rowsPerSecond).padStart(9)} rows/s     (${num(r.copy.seconds, 1)} s into a plain table with the same keys + dedup index)`,
      `  ratio ours / COPY  ${num(ratio, 2).padStart(9)}            target >= ${TARGETS.ingestRatio.target}, goal ${TARGETS.ingestRatio.goal}: ${grade(ratio >= TARGETS.ingestRatio.target, ratio >= TARGETS.ingestRatio.goal)}`,
      `  service peak RSS   ${num(i.peakRssMB).padStart(9)} MB         (sampled VmRSS during ingest; idle ${num(i.rssIdleMB)} MB; VmHWM ${num(i.vmHwmMB)} MB)`,
    );
    if (i.cpuSeconds) {
      out.push(
        `  CPU during ingest  service ${num(i.cpuSeconds.service, 1)} s, PostgreSQL ${i.cpuSeconds.postgres === null ? 'n/a' : `${num(i.cpuSeconds.postgres, 1)} s`} (wall ${num(i.seconds, 1)} s)`,
      );
    }
    const rollups = Object.entries(i.rollupRows).map(([t, n]) => `${t} ${num(n)}`);
    out.push(`  rollup rows (each equal to a GROUP BY of the raw rows): ${rollups.join(', ')}`, '');
  }
  if (r.endpoints && r.queryDataset) {
    const d = r.queryDataset;
    out.push(
      `Usage tab endpoints: ${num(d.rows)} raw rows (1k users, 60 models, 90 days); tz Europe/Berlin (IST: Asia/Kolkata), granularity day; ${r.options.repeat} calls each, raw baseline ${r.options.rawRepeat} runs`,
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
        `>=${TARGETS.speedup.target}x`,
        'totals',
      ],
    ];
    for (const e of r.endpoints) {
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
        !ok
          ? e.status
          : !e.speedupApplies
            ? 'n/a'
            : grade(e.speedup! >= TARGETS.speedup.target, e.speedup! >= TARGETS.speedup.goal),
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
      '',
    );
  }
  out.push('phases (seconds, 1-minute load average at the end):');
  for (const [phase, seconds] of Object.entries(r.phasesSeconds)) {
    const load = r.loadAverage1mAfter[phase];
    out.push(
      `  ${phase.padEnd(28)} ${num(seconds, 1).padStart(8)}${load === undefined ? '' : `  load ${num(load, 2)}`}`,
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
