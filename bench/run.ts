/**
 * npm run bench -- [--records N] [--shape favourites|any] [--raw-retention-days N] [--query-records N]
 *                  [--clients N] [--batch N] [--duplicates F] [--database-url URL] [--skip-ingest]
 *                  [--skip-queries] [--repeat N] [--raw-repeat N] [--seed N] [--profile DIR]
 *                  [--only ingest|queries|reservations|export|proxy] [--skip-reservations] [--reservations-rate N]
 *                  [--reservations-seconds N] [--reservations-mixed-seconds N] [--reservations-ingest-rate N]
 *                  [--skip-export] [--export-records N] [--export-pause-seconds N]
 *                  [--skip-proxy] [--proxy-concurrency N] [--proxy-seconds N]
 *                  [--only repricing] [--skip-repricing] [--repricing-records N]
 * See bench/options.ts for the details; results go to stdout and bench/results.json.
 */
import 'reflect-metadata';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { expectExactRollups, expectTotals, storedTotals } from './checks';
import { checkpoint, copyBaseline } from './copy-baseline';
import { connect, createDatabase, serverInfo, startServer } from './database';
import { SCENARIOS, WORKSPACE, ingestDataset, writeBatchFile, type Scenario, type Shape } from './dataset';
import { EXPORT_TARGETS, runExport } from './export';
import { ConsistencyError, runIngest } from './ingest';
import { parseOptions, USAGE, type BenchOptions } from './options';
import { profileOf, summariseProfile } from './profile';
import { note } from './progress';
import { explainEndpoint } from './plans';
import { runQueries } from './queries';
import { addPartitionsFor, loadQueryDataset } from './query-dataset';
import { PROXY_TARGETS, runProxy, startBenchUpstream } from './proxy';
import { runRepricing } from './repricing';
import { RESERVATION_TARGETS, runReservations } from './reservations';
import { machineInfo, printReport, TARGETS, writeResults, type Results } from './report';
import { clusterCpuSeconds, cpuSecondsOf, startService } from './service';
import { ROLLUPS } from './rollups';
import { round } from './stats';

const KNOWN_USAGE_TABLES = ['usage_records', 'usage_request_ids', 'usage_pending', ...ROLLUPS.map((r) => r.table)];

/** Undo steps, run last-in first-out once: at the end, on failure, on Ctrl-C. */
const undo: Array<{ what: string; run: () => Promise<void> }> = [];
let cleaning: Promise<void> | undefined;
let interrupted = false;

function cleanUp(): Promise<void> {
  cleaning ??= (async () => {
    for (let step = undo.pop(); step; step = undo.pop()) {
      try {
        await step.run();
      } catch (error) {
        note(`clean-up step "${step.what}" failed: ${(error as Error).message}`);
      }
    }
  })();
  return cleaning;
}

for (const [signal, code] of [
  ['SIGINT', 130],
  ['SIGTERM', 143],
] as const) {
  process.on(signal, () => {
    if (interrupted) {
      note(`second ${signal}: leaving without finishing the clean-up`);
      process.exit(code);
    }
    interrupted = true;
    note(`${signal}: stopping the service and removing the bench databases…`);
    void cleanUp().then(() => process.exit(code));
  });
}

function onceOnly(run: () => Promise<void>): () => Promise<void> {
  let done: Promise<void> | undefined;
  return () => (done ??= run());
}

function recordPhase(results: Results, phase: string, seconds: number, load = loadavg()[0]!): void {
  results.phasesSeconds[phase] = round(seconds, 1);
  results.loadAverage1mAfter[phase] = round(load, 2);
}

async function timed<T>(results: Results, phase: string, run: () => Promise<T> | T): Promise<T> {
  const started = performance.now();
  try {
    return await run();
  } finally {
    recordPhase(results, phase, (performance.now() - started) / 1000);
  }
}

/** One HTTP ingest of a generated dataset, checked, then the binary COPY of the same rows. */
async function ingestPart(
  options: BenchOptions,
  results: Results,
  server: Awaited<ReturnType<typeof startServer>>,
  tag: string,
  shape: Shape,
  scenario: Scenario,
): Promise<void> {
  const run = `${shape}, ${scenario}`;
  note(`ingest ${run}: ${options.records} records`);
  const db = await createDatabase(server.url, `tokentally_bench_ingest_${tag}`);
  const drop = onceOnly(db.drop);
  undo.push({ what: 'drop the ingest database', run: drop });

  const dataset = ingestDataset(options.seed, options.records, shape, scenario);
  const batchPath = join(server.workDir, 'batches.json');
  const file = await timed(results, `generate request bodies (${run})`, () =>
    writeBatchFile(batchPath, dataset, options.duplicates, options.batch),
  );
  note(`${file.batches.length} request bodies, ${round(file.bytes / 1048576)} MB, in ${batchPath}`);

  if (options.profile) mkdirSync(options.profile, { recursive: true });
  const service = await timed(results, `start service (${run})`, () =>
    startService(db.url, {
      maxBatchRecords: options.batch,
      rawRetentionDays: options.rawRetentionDays,
    }),
  );
  const stopService = onceOnly(service.stop);
  undo.push({ what: 'stop the service', run: stopService });

  const client = await connect(db.url);
  const disconnect = onceOnly(() => client.end());
  undo.push({ what: 'close a connection', run: disconnect });
  await checkpoint(client);
  const cpuBefore = {
    service: cpuSecondsOf(service.pid),
    pg: server.postmasterPid && clusterCpuSeconds(server.postmasterPid),
  };
  const ingest = await timed(results, `ingest over HTTP (${run})`, () =>
    runIngest(file, service, options.clients, client),
  );
  const cpuSeconds = {
    service: round(cpuSecondsOf(service.pid) - cpuBefore.service, 1),
    postgres: server.postmasterPid ? round(clusterCpuSeconds(server.postmasterPid) - Number(cpuBefore.pg), 1) : null,
  };
  await stopService();
  rmSync(batchPath, { force: true });
  const profile = options.profile ? profileOf(options.profile, service.pid) : undefined;

  await timed(results, `check ingested data (${run})`, async () => {
    expectTotals(await storedTotals(client, WORKSPACE), options.records, file.uniqueTotalTokens);
    await expectExactRollups(client, WORKSPACE);
  });

  const copy = await timed(results, `COPY baseline (${run})`, () =>
    copyBaseline({
      source: client,
      workspace: WORKSPACE,
      serverUrl: server.url,
      database: `tokentally_bench_copy_${tag}`,
      workDir: server.workDir,
      rawRetentionDays: options.rawRetentionDays,
      expectedRows: options.records,
    }),
  );
  results.ingest.push({
    shape,
    scenario,
    http: ingest,
    cpuSeconds,
    copy,
    ratio: round(ingest.recordsPerSecond / copy.rowsPerSecond, 3),
    loadAverage1m: results.loadAverage1mAfter[`ingest over HTTP (${run})`]!,
    profile: profile ? summariseProfile(profile) : undefined,
  });
  await disconnect();
  await drop();
}

async function queryPart(
  options: BenchOptions,
  results: Results,
  server: Awaited<ReturnType<typeof startServer>>,
  tag: string,
  shape: Shape,
): Promise<void> {
  const db = await createDatabase(server.url, `tokentally_bench_query_${tag}`);
  const drop = onceOnly(db.drop);
  undo.push({ what: 'drop the query database', run: drop });
  const [firstRetention, ...laterRetentions] = options.queryRetentions;
  const dataset = await loadQueryDataset(db.url, options.queryRecords, options.seed, shape, firstRetention!);
  recordPhase(results, `load query rows (SQL, ${shape})`, dataset.loadSeconds, dataset.loadAverages[0]);
  recordPhase(results, `build rollups (${shape})`, dataset.rollupSeconds, dataset.loadAverages[1]);
  recordPhase(results, `VACUUM ANALYZE, CHECKPOINT (${shape})`, dataset.vacuumSeconds, dataset.loadAverages[2]);

  const client = await connect(db.url);
  const disconnect = onceOnly(() => client.end());
  undo.push({ what: 'close a connection', run: disconnect });
  const tables = (
    await client.query(
      `SELECT relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition AND relname LIKE 'usage%'`,
    )
  ).rows as Array<{ relname: string }>;
  for (const { relname } of tables) {
    if (!KNOWN_USAGE_TABLES.includes(relname)) {
      results.warnings.push(`table ${relname} exists but the bench does not fill it: endpoints reading it see no data`);
    }
  }
  // the same records under each raw retention: a longer one only adds (empty) monthly partitions
  for (const rawRetentionDays of [firstRetention!, ...laterRetentions]) {
    const label = `${shape}, ${rawRetentionDays} d`;
    await addPartitionsFor(db.url, rawRetentionDays);
    const partitions = Number(
      (
        (await client.query(`SELECT count(*) AS n FROM pg_inherits WHERE inhparent = 'usage_records'::regclass`))
          .rows[0] as { n: string }
      ).n,
    );
    const service = await timed(results, `start service (queries, ${label})`, () =>
      startService(db.url, { maxBatchRecords: options.batch, rawRetentionDays }),
    );
    const stopService = onceOnly(service.stop);
    undo.push({ what: 'stop the service', run: stopService });
    const queries = await runQueries(client, service, options.repeat, options.rawRepeat);
    await stopService();
    recordPhase(results, `endpoint calls (${label})`, queries.callSeconds);
    recordPhase(results, `raw GROUP BY baselines (${label})`, queries.rawSeconds);
    const missed = queries.results.filter(
      (e) =>
        e.status === 'ok' &&
        e.latencyMs &&
        (e.latencyMs.p95 > TARGETS.p95Ms.target || (e.speedupApplies && e.latencyMs.p95 > e.rawMs.p50)),
    );
    if (missed.length > 0) {
      const file = join('bench', `plans-${shape}-${options.queryRecords}-${rawRetentionDays}d.txt`);
      const text: string[] = [];
      for (const e of missed) {
        const explained = await explainEndpoint(db.url, WORKSPACE, rawRetentionDays, e.path);
        text.push(`### ${e.name} (${e.range}): ${e.path}`, '');
        for (const { sql, plan } of explained.statements) text.push(sql, '', plan, '');
        e.plans = file;
      }
      writeFileSync(file, text.join('\n'));
    }
    results.queries.push({ shape, rawRetentionDays, partitions, dataset, endpoints: queries.results });
    for (const e of queries.results) {
      if (e.answer?.startsWith('DIFFERS'))
        results.warnings.push(`${label}: ${e.name} (${e.range}): answer ${e.answer}`);
      if (e.status !== 'ok' && e.status !== 'missing')
        results.warnings.push(`${label}: ${e.name} (${e.range}): ${e.status} ${e.detail ?? ''}`);
    }
  }
  await disconnect();
  await drop();
}

/** Quota reservations at a fixed rate beside ingest, on a fresh database; fails the run on any overspend. */
async function reservationsPart(
  options: BenchOptions,
  results: Results,
  server: Awaited<ReturnType<typeof startServer>>,
  tag: string,
): Promise<void> {
  const db = await createDatabase(server.url, `tokentally_bench_reservations_${tag}`);
  const drop = onceOnly(db.drop);
  undo.push({ what: 'drop the reservations database', run: drop });
  const service = await timed(results, 'start service (reservations)', () =>
    startService(db.url, {
      maxBatchRecords: options.batch,
      rawRetentionDays: options.rawRetentionDays,
      cpuProfileDir: options.profile,
    }),
  );
  const stopService = onceOnly(service.stop);
  undo.push({ what: 'stop the service', run: stopService });
  const client = await connect(db.url);
  const disconnect = onceOnly(() => client.end());
  undo.push({ what: 'close a connection', run: disconnect });
  const reservations = await timed(results, 'quota reservations', () =>
    runReservations(service, client, server.postmasterPid, {
      rate: options.reservationsRate,
      seconds: options.reservationsSeconds,
      mixedSeconds: options.reservationsMixedSeconds,
      ingestRate: options.reservationsIngestRate,
      seed: options.seed,
    }),
  );
  results.reservations = reservations;
  await stopService();
  await disconnect();
  await drop();
  const problems = reservations.phases.flatMap((p) => p.problems.map((x) => `${p.phase}: ${x}`));
  for (const p of reservations.phases.filter((x) => x.skipped > 0 || x.answeredPerSecond < 0.95 * x.targetRate)) {
    results.warnings.push(
      `RESERVATIONS FAIL (${p.phase}): answered ${p.answeredPerSecond}/s of ${p.targetRate}/s, ${p.skipped} of ${p.due} requests skipped because a second's worth were unanswered`,
    );
  }
  if (reservations.p99Ms > RESERVATION_TARGETS.p99Ms) {
    results.warnings.push(
      `RESERVATIONS FAIL: client-side p99 ${reservations.p99Ms} ms is over the ${RESERVATION_TARGETS.p99Ms} ms bar`,
    );
  }
  if (reservations.overspendTokens !== 0 || problems.length > 0) {
    throw new ConsistencyError(
      `quota reservations: overspend ${reservations.overspendTokens} tokens (must be 0)${problems.length > 0 ? `; ${problems.join('; ')}` : ''}`,
    );
  }
}

/** The export of a loaded dataset over HTTP beside a COPY of the same rows, on a fresh database. */
async function exportPart(
  options: BenchOptions,
  results: Results,
  server: Awaited<ReturnType<typeof startServer>>,
  tag: string,
): Promise<void> {
  const db = await createDatabase(server.url, `tokentally_bench_export_${tag}`);
  const drop = onceOnly(db.drop);
  undo.push({ what: 'drop the export database', run: drop });
  const shape = options.shapes[0]!;
  const dataset = await loadQueryDataset(db.url, options.exportRecords, options.seed, shape, options.rawRetentionDays);
  recordPhase(results, `load export rows (SQL, ${shape})`, dataset.loadSeconds + dataset.rollupSeconds);
  const service = await timed(results, 'start service (export)', () =>
    startService(db.url, { maxBatchRecords: options.batch, rawRetentionDays: options.rawRetentionDays }),
  );
  const stopService = onceOnly(service.stop);
  undo.push({ what: 'stop the service', run: stopService });
  results.export = await timed(results, 'export', () =>
    runExport(db.url, service, dataset, options.exportPauseSeconds * 1000),
  );
  await stopService();
  await drop();
  for (const run of results.export.runs.filter((r) => r.rssGrowthMB >= EXPORT_TARGETS.rssGrowthMB)) {
    results.warnings.push(
      `EXPORT FAIL (${run.name}): the service's RSS grew ${run.rssGrowthMB} MB (target < ${EXPORT_TARGETS.rssGrowthMB} MB)`,
    );
  }
}

/** Re-pricing every record of a loaded dataset beside a plain UPDATE of the same rows, on a fresh database. */
async function repricingPart(
  options: BenchOptions,
  results: Results,
  server: Awaited<ReturnType<typeof startServer>>,
  tag: string,
): Promise<void> {
  const db = await createDatabase(server.url, `tokentally_bench_repricing_${tag}`);
  const drop = onceOnly(db.drop);
  undo.push({ what: 'drop the re-pricing database', run: drop });
  const shape = options.shapes[0]!;
  const dataset = await loadQueryDataset(
    db.url,
    options.repricingRecords,
    options.seed,
    shape,
    options.rawRetentionDays,
  );
  recordPhase(results, `load re-pricing rows (SQL, ${shape})`, dataset.loadSeconds + dataset.rollupSeconds);
  const result = await timed(results, 'repricing', () => runRepricing(db.url, dataset));
  results.repricing = result;
  note(
    `repricing ${result.records} records (${result.models} models): dry run ${result.dryRunSeconds} s, applied ${result.applySeconds} s ` +
      `(${result.repriced} changed, rollups exact), plain UPDATE of the same rows ${result.plainUpdateSeconds} s, ` +
      `second run ${result.secondApplySeconds} s (${result.secondRepriced} changed)`,
  );
  if (result.secondRepriced !== 0)
    results.warnings.push(`REPRICING FAIL: a second identical run changed ${result.secondRepriced} records`);
  await drop();
}

/** Concurrent streamed calls through the proxy beside calls straight to the fake upstream, on a fresh database. */
async function proxyPart(
  options: BenchOptions,
  results: Results,
  server: Awaited<ReturnType<typeof startServer>>,
  tag: string,
): Promise<void> {
  const db = await createDatabase(server.url, `tokentally_bench_proxy_${tag}`);
  const drop = onceOnly(db.drop);
  undo.push({ what: 'drop the proxy database', run: drop });
  const fake = await startBenchUpstream();
  undo.push({ what: 'stop the fake upstream', run: onceOnly(fake.close) });
  const service = await timed(results, 'start service (proxy)', () =>
    startService(db.url, {
      maxBatchRecords: options.batch,
      rawRetentionDays: options.rawRetentionDays,
      env: { OPENAI_UPSTREAM_URL: `${fake.url}/v1` },
      cpuProfileDir: options.profile,
    }),
  );
  const stopService = onceOnly(service.stop);
  undo.push({ what: 'stop the service', run: stopService });
  const client = await connect(db.url);
  const disconnect = onceOnly(() => client.end());
  undo.push({ what: 'close a connection', run: disconnect });
  results.proxy = await timed(results, 'proxy', () =>
    runProxy(service, fake, {
      concurrency: options.proxyConcurrency,
      seconds: options.proxySeconds,
      countRecords: async () =>
        ((await client.query('SELECT count(*)::int AS n FROM usage_records')) as { rows: Array<{ n: number }> })
          .rows[0]!.n,
      countTransactions: async () => {
        // the statistics of this transaction would otherwise be a snapshot taken at its first read
        await client.query('SELECT pg_stat_clear_snapshot()');
        const result = (await client.query(
          'SELECT (xact_commit + xact_rollback)::float8 AS n FROM pg_stat_database WHERE datname = current_database()',
        )) as { rows: Array<{ n: number }> };
        return result.rows[0]!.n;
      },
    }),
  );
  await stopService();
  await disconnect();
  await fake.close();
  await drop();
  const proxy = results.proxy;
  for (const phase of proxy.phases.filter((p) => p.addedTtfbP95Ms > PROXY_TARGETS.addedTtfbP95Ms)) {
    results.warnings.push(
      `PROXY FAIL (${phase.plan} plan): the proxy adds ${phase.addedTtfbP95Ms} ms to the p95 time to first byte (target ≤ ${PROXY_TARGETS.addedTtfbP95Ms} ms)`,
    );
  }
  const failures = proxy.phases.reduce((sum, p) => sum + p.failures, 0);
  if (failures > 0 || proxy.recordsStored !== proxy.callsMade) {
    throw new ConsistencyError(
      `proxy: ${failures} calls failed; ${proxy.recordsStored} of ${proxy.callsMade} calls recorded`,
    );
  }
}

async function main(): Promise<number> {
  let options: BenchOptions;
  try {
    const parsed = parseOptions(process.argv.slice(2), process.env);
    if (parsed === 'help') {
      console.log(USAGE);
      return 0;
    }
    options = parsed;
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { databaseUrl, ...rest } = options;
  const results: Results = {
    date: new Date().toISOString(),
    options: { ...rest, database: databaseUrl ? 'given server' : 'embedded' },
    machine: machineInfo(),
    phasesSeconds: {},
    loadAverage1mAfter: {},
    targets: TARGETS,
    ingest: [],
    queries: [],
    warnings: [],
  };
  const started = performance.now();
  let code = 0;
  try {
    const server = await timed(results, 'start PostgreSQL', () => startServer(databaseUrl));
    undo.push({ what: 'stop PostgreSQL and remove the temp folder', run: server.stop });
    results.postgres = await serverInfo(server.url);
    const tag = `${process.pid}_${Date.now().toString(36)}`;
    const scenarios = Object.keys(SCENARIOS) as Scenario[];
    if (!options.skipIngest) {
      for (const shape of options.shapes) {
        for (const scenario of scenarios) await ingestPart(options, results, server, tag, shape, scenario);
      }
    }
    if (!options.skipQueries) {
      for (const shape of options.shapes) await queryPart(options, results, server, tag, shape);
    }
    if (!options.skipReservations) await reservationsPart(options, results, server, tag);
    if (!options.skipExport) await exportPart(options, results, server, tag);
    if (!options.skipProxy) await proxyPart(options, results, server, tag);
    if (!options.skipRepricing) await repricingPart(options, results, server, tag);
  } catch (error) {
    if (interrupted) return 130;
    code = 1;
    results.failure =
      error instanceof ConsistencyError
        ? `CONSISTENCY CHECK FAILED: ${error.message}`
        : String((error as Error).stack ?? error);
    console.error(`\n${results.failure}\n`);
  } finally {
    await timed(results, 'clean-up', cleanUp);
  }
  results.phasesSeconds.total = round((performance.now() - started) / 1000, 1);
  results.machine.loadAverageAtEnd = loadavg().map((l) => round(l, 2));
  printReport(results);
  note(`results written to ${writeResults(results, import.meta.dirname)}`);
  return code;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    void cleanUp().then(() => process.exit(1));
  },
);
