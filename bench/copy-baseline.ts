/**
 * The ceiling for ingest: COPY of the very rows the service stored into a plain (not
 * partitioned) copy of the raw table with the same keys and indexes, plus a unique index on
 * (workspace_id, request_id) standing in for the dedup ledger. One connection, one COPY.
 */
import { createReadStream, createWriteStream, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import pgCopy from 'pg-copy-streams';
import { connect } from './database';
import { ConsistencyError } from './ingest';
import { Progress } from './progress';

const COLUMNS = `workspace_id, occurred_at, request_id, user_id, provider, model, operation, input_tokens,
  output_tokens, cached_input_tokens, cache_write_tokens, reasoning_tokens, total_tokens, duration_ms, success,
  error, cost, cost_status, metadata`;

export interface CopyResult {
  rows: number;
  bytes: number;
  exportSeconds: number;
  seconds: number;
  rowsPerSecond: number;
}

export async function checkpoint(client: { query(sql: string): Promise<unknown> }): Promise<void> {
  await client.query('CHECKPOINT').catch(() => undefined); // needs superuser or pg_checkpoint
}

export async function copyBaseline(url: string, workDir: string, expectedRows: number): Promise<CopyResult> {
  const client = await connect(url);
  try {
    await client.query('DROP TABLE IF EXISTS bench_copy');
    await client.query('CREATE TABLE bench_copy (LIKE usage_records INCLUDING DEFAULTS)');
    await client.query('ALTER TABLE bench_copy ADD PRIMARY KEY (workspace_id, occurred_at, request_id)');
    await client.query('CREATE INDEX bench_copy_occurred_brin ON bench_copy USING brin (occurred_at)');
    await client.query('CREATE INDEX bench_copy_user ON bench_copy (workspace_id, user_id, occurred_at)');
    await client.query('CREATE UNIQUE INDEX bench_copy_dedup ON bench_copy (workspace_id, request_id)');

    // pre-serialise: the stored rows in COPY text format, in time order (the order they were sent in)
    const path = join(workDir, 'copy-rows.tsv');
    const exportStarted = performance.now();
    await pipeline(
      client.query(pgCopy.to(`COPY (SELECT ${COLUMNS} FROM usage_records ORDER BY occurred_at) TO STDOUT`)),
      createWriteStream(path),
    );
    const exportSeconds = (performance.now() - exportStarted) / 1000;
    const bytes = statSync(path).size;

    await checkpoint(client);
    const progress = new Progress('COPY baseline (1 connection)', expectedRows, 'rows');
    const source = createReadStream(path, { highWaterMark: 1 << 20 });
    let read = 0;
    source.on('data', (chunk) => {
      read += chunk.length;
      progress.update(Math.round((read / bytes) * expectedRows));
    });
    const started = performance.now();
    await pipeline(source, client.query(pgCopy.from(`COPY bench_copy (${COLUMNS}) FROM STDIN`)));
    const seconds = (performance.now() - started) / 1000;
    progress.update(expectedRows);
    progress.finish();

    const rows = Number(((await client.query('SELECT count(*) AS n FROM bench_copy')).rows[0] as { n: string }).n);
    if (rows !== expectedRows) throw new ConsistencyError(`COPY stored ${rows} rows, expected ${expectedRows}`);
    await client.query('DROP TABLE bench_copy');
    rmSync(path, { force: true });
    return { rows, bytes, exportSeconds, seconds, rowsPerSecond: rows / seconds };
  } finally {
    await client.end();
  }
}
