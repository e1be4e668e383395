import { parseArgs } from 'node:util';
import { SHAPES, type Shape } from './dataset';

export interface BenchOptions {
  records: number;
  shapes: Shape[];
  rawRetentionDays: number;
  /** raw retentions the query part runs at, one after the other on one dataset */
  queryRetentions: number[];
  queryRecords: number;
  clients: number;
  batch: number;
  duplicates: number;
  databaseUrl?: string;
  skipIngest: boolean;
  skipQueries: boolean;
  repeat: number;
  rawRepeat: number;
  seed: number;
  /** folder for the service's CPU profiles during ingest */
  profile?: string;
  skipReservations: boolean;
  reservationsRate: number;
  reservationsSeconds: number;
  reservationsMixedSeconds: number;
  reservationsIngestRate: number;
  skipExport: boolean;
  exportRecords: number;
  exportPauseSeconds: number;
  skipProxy: boolean;
  proxyConcurrency: number;
  proxySeconds: number;
  skipRepricing: boolean;
  repricingRecords: number;
}

export const USAGE = `usage: npm run bench -- [options]

  --records N         records to ingest over HTTP per run (default 1000000); the ingest runs twice
                      per shape: "live" (records of the last hour) and "backfill" (the last 30 days),
                      each against a binary COPY of the same rows into a fresh database
  --shape S           favourites: each user calls three favourite models (~85% of calls), the rest
                      at random; any: every user calls any of the 60 models at random. Both with
                      1,000 users, user-0000 the heaviest. Repeat or list (favourites,any) to run
                      several; default both. Applies to the ingest and the query dataset
  --raw-retention-days N
                      RAW_RETENTION_DAYS of the service, and the monthly partitions the bench
                      creates for the query dataset (default 90, at least 31, as the backfill
                      reaches 30 days back; 3650 means ~123 partitions)
  --query-records N   rows loaded for the query part (default 10000000)
  --query-retentions L  raw retentions in days the query part runs at, on one dataset (default
                      90,3650): the service runs with each, and the monthly partitions of each
                      window exist (3650 days: ~123 partitions, the extra ones empty)
  --clients N         concurrent HTTP clients (default 4)
  --batch N           records per request (default 1000)
  --duplicates F      fraction of records re-sent on top of N (default 0.05)
  --database-url URL  PostgreSQL to use (or env BENCH_DATABASE_URL); the bench creates and
                      drops its own databases there. Default: an embedded PostgreSQL in the
                      OS temp folder, removed afterwards
  --skip-ingest       skip the ingest + COPY part
  --skip-queries      skip the query part
  --skip-reservations skip the quota reservations part
  --skip-export       skip the export part
  --skip-proxy        skip the proxy part
  --only P            run only one part: ingest, queries, reservations, export, proxy or repricing
  --skip-repricing    skip the re-pricing part
  --repricing-records N
                      records loaded for the re-pricing part (default 1000000): every model gets a
                      new price and all of them are re-priced (dry run, applied, applied again),
                      beside a plain UPDATE of the same rows' cost at the same prices
  --reservations-rate N
                      quota reservations per second, open loop (default 2000)
  --reservations-seconds N
                      length of the exact phase (settlements = the estimate, overspend checked
                      exactly; default 60)
  --reservations-mixed-seconds N
                      length of the phase with settlements 0.5-1.5 x the estimate (default 15; 0 skips)
  --reservations-ingest-rate N
                      ordinary ingest of other users beside the reservations, records/s (default 1000)
  --export-records N  records loaded for the export part (default 1000000): exported as CSV and NDJSON,
                      with a paused reader, and as days, beside COPY (SELECT …) TO STDOUT of the same rows
  --export-pause-seconds N
                      how long the paused reader waits after its first chunk (default 5)
  --proxy-concurrency N
                      streamed chat completions in flight through the proxy at any moment, and as
                      many straight to the fake upstream (default 100)
  --proxy-seconds N   length of each of the two phases (no-limit plan, hard plan; default 15)
  --repeat N          calls per Usage tab endpoint (default 50)
  --raw-repeat N      runs of each raw-table GROUP BY baseline (default 3)
  --seed N            seed of the generated data (default 42)
  --profile DIR       write a CPU profile of the service for each ingest run (and for the
                      reservations and proxy parts) into DIR; for ingest, print where its time
                      went (the profiler slows the service a little)
  --help`;

function integer(name: string, raw: string | undefined, fallback: number, min: number): number {
  if (raw === undefined) return fallback;
  const value = Number(raw.replace(/_/g, ''));
  if (!Number.isSafeInteger(value) || value < min) throw new Error(`--${name} must be a whole number ≥ ${min}`);
  return value;
}

/** Parses the command line; throws with a message meant for the user. */
export function parseOptions(argv: string[], env: NodeJS.ProcessEnv): BenchOptions | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: {
      records: { type: 'string' },
      shape: { type: 'string', multiple: true },
      'raw-retention-days': { type: 'string' },
      'query-records': { type: 'string' },
      'query-retentions': { type: 'string' },
      clients: { type: 'string' },
      batch: { type: 'string' },
      duplicates: { type: 'string' },
      'database-url': { type: 'string' },
      'skip-ingest': { type: 'boolean', default: false },
      'skip-queries': { type: 'boolean', default: false },
      'skip-reservations': { type: 'boolean', default: false },
      'skip-export': { type: 'boolean', default: false },
      'skip-proxy': { type: 'boolean', default: false },
      'skip-repricing': { type: 'boolean', default: false },
      'repricing-records': { type: 'string' },
      'proxy-concurrency': { type: 'string' },
      'proxy-seconds': { type: 'string' },
      'export-records': { type: 'string' },
      'export-pause-seconds': { type: 'string' },
      only: { type: 'string' },
      'reservations-rate': { type: 'string' },
      'reservations-seconds': { type: 'string' },
      'reservations-mixed-seconds': { type: 'string' },
      'reservations-ingest-rate': { type: 'string' },
      repeat: { type: 'string' },
      'raw-repeat': { type: 'string' },
      seed: { type: 'string' },
      profile: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) return 'help';
  const duplicates = values.duplicates === undefined ? 0.05 : Number(values.duplicates);
  if (!Number.isFinite(duplicates) || duplicates < 0 || duplicates > 1) {
    throw new Error('--duplicates must be a fraction from 0 to 1');
  }
  const databaseUrl = values['database-url'] ?? (env.BENCH_DATABASE_URL?.trim() || undefined);
  if (databaseUrl !== undefined && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new Error('--database-url must be a postgres:// or postgresql:// URL');
  }
  const shapes: Shape[] = [];
  for (const name of (values.shape ?? [SHAPES.join(',')]).flatMap((list) => list.split(','))) {
    const shape = SHAPES.find((s) => s === name.trim());
    if (!shape) throw new Error(`--shape must be one of ${SHAPES.join(', ')}, got "${name}"`);
    if (!shapes.includes(shape)) shapes.push(shape);
  }
  const parts = ['ingest', 'queries', 'reservations', 'export', 'proxy', 'repricing'] as const;
  const only = values.only === undefined ? undefined : parts.find((p) => p === values.only);
  if (values.only !== undefined && !only) throw new Error(`--only must be one of ${parts.join(', ')}`);
  const batch = integer('batch', values.batch, 1000, 1);
  if (batch > 10_000) throw new Error('--batch must be at most 10000 (the service accepts up to 10000)');
  return {
    records: integer('records', values.records, 1_000_000, 1),
    shapes,
    // the backfill reaches 30 days back: the service must accept all of it
    rawRetentionDays: integer('raw-retention-days', values['raw-retention-days'], 90, 31),
    queryRecords: integer('query-records', values['query-records'], 10_000_000, 1000),
    queryRetentions: [
      ...new Set(
        (values['query-retentions'] ?? '90,3650').split(',').map((d) => integer('query-retentions', d, 90, 1)),
      ),
    ].sort((a, b) => a - b),
    clients: integer('clients', values.clients, 4, 1),
    batch,
    duplicates,
    databaseUrl,
    skipIngest: only ? only !== 'ingest' : (values['skip-ingest'] ?? false),
    skipQueries: only ? only !== 'queries' : (values['skip-queries'] ?? false),
    skipReservations: only ? only !== 'reservations' : (values['skip-reservations'] ?? false),
    skipExport: only ? only !== 'export' : (values['skip-export'] ?? false),
    skipProxy: only ? only !== 'proxy' : (values['skip-proxy'] ?? false),
    skipRepricing: only ? only !== 'repricing' : (values['skip-repricing'] ?? false),
    repricingRecords: integer('repricing-records', values['repricing-records'], 1_000_000, 1000),
    proxyConcurrency: integer('proxy-concurrency', values['proxy-concurrency'], 100, 1),
    proxySeconds: integer('proxy-seconds', values['proxy-seconds'], 15, 1),
    exportRecords: integer('export-records', values['export-records'], 1_000_000, 1000),
    exportPauseSeconds: integer('export-pause-seconds', values['export-pause-seconds'], 5, 0),
    reservationsRate: integer('reservations-rate', values['reservations-rate'], 2000, 1),
    reservationsSeconds: integer('reservations-seconds', values['reservations-seconds'], 60, 1),
    reservationsMixedSeconds: integer('reservations-mixed-seconds', values['reservations-mixed-seconds'], 15, 0),
    reservationsIngestRate: integer('reservations-ingest-rate', values['reservations-ingest-rate'], 1000, 0),
    repeat: integer('repeat', values.repeat, 50, 1),
    rawRepeat: integer('raw-repeat', values['raw-repeat'], 3, 1),
    seed: integer('seed', values.seed, 42, 0),
    profile: values.profile,
  };
}
