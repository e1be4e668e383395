/**
 * The ceiling for ingest: the fastest load a client can do of the same rows into the same
 * tables with the same keys. The records the service stored are read back and encoded in
 * PostgreSQL's binary COPY format ahead of time (like the request bodies); then, timed, one
 * binary COPY per table, both at once on two connections, fills a fresh database migrated
 * like the service's, with the same monthly partitions: the raw records into usage_records
 * (partition, primary key and indexes) and their request ids into the dedup ledger
 * usage_request_ids. No rollups: those are the work the service does on top.
 */
import { closeSync, createReadStream, openSync, rmSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import pgCopy from 'pg-copy-streams';
import { createDataSource, migrate } from '../src/infrastructure/persistence/data-source';
import { maintainStorage } from '../src/infrastructure/persistence/maintenance';
import { BinaryCopyEncoder, copyHeader, copyTrailer, type CopyType, type CopyValue } from './binary-copy';
import { connect, createDatabase } from './database';
import { ConsistencyError } from './ingest';
import { Progress } from './progress';
import { walCounts, walWritten, type WalWritten } from './wal';

const RECORD_COLUMNS: Array<[column: string, type: CopyType]> = [
  ['workspace_id', 'text'],
  ['occurred_at', 'timestamptz'],
  ['request_id', 'text'],
  ['user_id', 'text'],
  ['provider', 'text'],
  ['model', 'text'],
  ['operation', 'text'],
  ['input_tokens', 'int8'],
  ['output_tokens', 'int8'],
  ['cached_input_tokens', 'int8'],
  ['cache_write_tokens', 'int8'],
  ['cache_write_1h_tokens', 'int8'],
  ['reasoning_tokens', 'int8'],
  ['total_tokens', 'int8'],
  ['duration_ms', 'int4'],
  ['success', 'bool'],
  ['error', 'text'],
  ['cost', 'numeric'],
  ['cost_status', 'text'],
  ['token_source', 'text'],
  ['metadata', 'jsonb'],
];
const LEDGER_COLUMNS: Array<[column: string, type: CopyType]> = [
  ['workspace_id', 'text'],
  ['request_id', 'text'],
  ['occurred_at', 'timestamptz'],
];

/** The stored records in the order they were sent (time order), exact: time in µs, cost and metadata as text. */
const READ_BACK = `DECLARE stored NO SCROLL CURSOR FOR
SELECT ${RECORD_COLUMNS.map(([column]) =>
  column === 'occurred_at'
    ? `(extract(epoch FROM occurred_at) * 1000000)::int8`
    : column === 'cost' || column === 'metadata'
      ? `${column}::text`
      : column,
).join(', ')}
FROM usage_records WHERE workspace_id = $1 ORDER BY occurred_at, request_id`;

export interface CopyResult {
  rows: number;
  /** monthly partitions of usage_records, as the service creates them for RAW_RETENTION_DAYS */
  partitions: number;
  seconds: number;
  rowsPerSecond: number;
  /** what the COPY wrote to the WAL (a CHECKPOINT just before) */
  wal: WalWritten;
}

export async function checkpoint(client: { query(sql: string): Promise<unknown> }): Promise<void> {
  await client.query('CHECKPOINT').catch(() => undefined); // needs superuser or pg_checkpoint
}

/** Writes the workspace's stored records and their ledger rows as two binary COPY files. */
async function writeCopyFiles(
  source: pg.Client,
  workspace: string,
  paths: { records: string; ledger: string },
): Promise<number> {
  const records = new BinaryCopyEncoder(RECORD_COLUMNS.map(([, type]) => type));
  const ledger = new BinaryCopyEncoder(LEDGER_COLUMNS.map(([, type]) => type));
  const recordsFd = openSync(paths.records, 'w');
  const ledgerFd = openSync(paths.ledger, 'w');
  let rows = 0;
  try {
    writeSync(recordsFd, copyHeader());
    writeSync(ledgerFd, copyHeader());
    await source.query('BEGIN');
    try {
      await source.query(READ_BACK, [workspace]);
      for (;;) {
        const batch = (await source.query({ text: 'FETCH 20000 FROM stored', rowMode: 'array' })).rows as CopyValue[][];
        if (batch.length === 0) break;
        for (const values of batch) {
          values[1] = BigInt(values[1] as string); // µs since 1970
          records.row(values);
          ledger.row([values[0], values[2], values[1]]);
        }
        rows += batch.length;
        writeSync(recordsFd, records.take());
        writeSync(ledgerFd, ledger.take());
      }
    } finally {
      await source.query('ROLLBACK'); // it only read
    }
    writeSync(recordsFd, copyTrailer());
    writeSync(ledgerFd, copyTrailer());
  } finally {
    closeSync(recordsFd);
    closeSync(ledgerFd);
  }
  return rows;
}

async function copyFile(client: pg.Client, sql: string, path: string, onBytes?: (n: number) => void): Promise<void> {
  const source = createReadStream(path, { highWaterMark: 1 << 20 });
  if (onBytes) source.on('data', (chunk) => onBytes(chunk.length));
  await pipeline(source, client.query(pgCopy.from(sql)));
}

export async function copyBaseline(options: {
  /** the service's database after the ingest */
  source: pg.Client;
  workspace: string;
  serverUrl: string;
  /** name of the fresh database to COPY into */
  database: string;
  workDir: string;
  rawRetentionDays: number;
  expectedRows: number;
}): Promise<CopyResult> {
  const paths = { records: join(options.workDir, 'records.copy'), ledger: join(options.workDir, 'ledger.copy') };
  const target = await createDatabase(options.serverUrl, options.database);
  const clients: pg.Client[] = [];
  try {
    const written = await writeCopyFiles(options.source, options.workspace, paths);
    if (written !== options.expectedRows) {
      throw new ConsistencyError(`the service stored ${written} records, expected ${options.expectedRows}`);
    }
    // the service's schema and partitions, as it creates them at start
    const dataSource = createDataSource(target.url, 2); // migrate holds one connection for its lock
    await dataSource.initialize();
    try {
      await migrate(dataSource);
      await maintainStorage(dataSource, new Date(), options.rawRetentionDays);
    } finally {
      await dataSource.destroy();
    }

    clients.push(await connect(target.url), await connect(target.url));
    const [records, ledger] = clients as [pg.Client, pg.Client];
    await checkpoint(records);
    const partitions = (
      await records.query(`SELECT count(*)::int AS n FROM pg_inherits WHERE inhparent = 'usage_records'::regclass`)
    ).rows[0] as { n: number };
    const progress = new Progress('COPY baseline (binary, 2 connections)', options.expectedRows, 'rows');
    let read = 0;
    const recordBytes = statSync(paths.records).size;
    const walBefore = await walCounts(records);
    const started = performance.now();
    await Promise.all([
      copyFile(
        records,
        `COPY usage_records (${RECORD_COLUMNS.map(([c]) => c).join(', ')}) FROM STDIN (FORMAT binary)`,
        paths.records,
        (n) => progress.update(Math.round(((read += n) / recordBytes) * options.expectedRows)),
      ),
      copyFile(
        ledger,
        `COPY usage_request_ids (${LEDGER_COLUMNS.map(([c]) => c).join(', ')}) FROM STDIN (FORMAT binary)`,
        paths.ledger,
      ),
    ]);
    const seconds = (performance.now() - started) / 1000;
    const wal = walWritten(walBefore, await walCounts(records), written);
    progress.finish();

    const counted = (
      await records.query(
        `SELECT (SELECT count(*) FROM usage_records)::int AS records, (SELECT count(*) FROM usage_request_ids)::int AS ledger`,
      )
    ).rows[0] as { records: number; ledger: number };
    if (counted.records !== written || counted.ledger !== written) {
      throw new ConsistencyError(
        `COPY stored ${counted.records} records and ${counted.ledger} ledger rows, expected ${written}`,
      );
    }
    return { rows: written, partitions: partitions.n, seconds, rowsPerSecond: written / seconds, wal };
  } finally {
    await Promise.all(clients.map((c) => c.end()));
    await target.drop();
    rmSync(paths.records, { force: true });
    rmSync(paths.ledger, { force: true });
  }
}
