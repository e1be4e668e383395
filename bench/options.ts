import { parseArgs } from 'node:util';

export interface BenchOptions {
  records: number;
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
}

export const USAGE = `usage: npm run bench -- [options]

  --records N         records to ingest over HTTP (default 1000000)
  --query-records N   rows loaded for the query part (default 10000000)
  --clients N         concurrent HTTP clients (default 4)
  --batch N           records per request (default 1000)
  --duplicates F      fraction of records re-sent on top of N (default 0.05)
  --database-url URL  PostgreSQL to use (or env BENCH_DATABASE_URL); the bench creates and
                      drops its own databases there. Default: an embedded PostgreSQL in the
                      OS temp folder, removed afterwards
  --skip-ingest       skip the ingest + COPY part
  --skip-queries      skip the query part
  --repeat N          calls per Usage tab endpoint (default 50)
  --raw-repeat N      runs of each raw-table GROUP BY baseline (default 3)
  --seed N            seed of the generated data (default 42)
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
      'query-records': { type: 'string' },
      clients: { type: 'string' },
      batch: { type: 'string' },
      duplicates: { type: 'string' },
      'database-url': { type: 'string' },
      'skip-ingest': { type: 'boolean', default: false },
      'skip-queries': { type: 'boolean', default: false },
      repeat: { type: 'string' },
      'raw-repeat': { type: 'string' },
      seed: { type: 'string' },
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
  const batch = integer('batch', values.batch, 1000, 1);
  if (batch > 10_000) throw new Error('--batch must be at most 10000 (the service accepts up to 10000)');
  return {
    records: integer('records', values.records, 1_000_000, 1),
    queryRecords: integer('query-records', values['query-records'], 10_000_000, 1000),
    clients: integer('clients', values.clients, 4, 1),
    batch,
    duplicates,
    databaseUrl,
    skipIngest: values['skip-ingest'] ?? false,
    skipQueries: values['skip-queries'] ?? false,
    repeat: integer('repeat', values.repeat, 50, 1),
    rawRepeat: integer('raw-repeat', values['raw-repeat'], 3, 1),
    seed: integer('seed', values.seed, 42, 0),
  };
}
