/**
 * What PostgreSQL wrote to its write-ahead log: bytes, full-page images (a page's first change
 * after a checkpoint is logged whole) and the checkpoints that WAL volume forced before
 * checkpoint_timeout. The counters are the server's: on the bench's own server only the
 * database being measured writes at the time; on a shared server (--database-url) others add.
 */
export interface WalCounts {
  bytes: number;
  fullPageImages: number;
  /** checkpoints asked for by WAL volume (max_wal_size) or by hand, not by the timer */
  checkpointsRequested: number;
}

export interface WalWritten {
  kBPerRecord: number;
  fullPageImagesPerRecord: number;
  checkpointsRequested: number;
}

export async function walCounts(client: { query(sql: string): Promise<{ rows: unknown[] }> }): Promise<WalCounts> {
  const wal = (await client.query('SELECT wal_bytes::float8 AS bytes, wal_fpi::float8 AS fpi FROM pg_stat_wal'))
    .rows[0] as { bytes: number; fpi: number };
  // pg_stat_checkpointer since PostgreSQL 17, pg_stat_bgwriter before
  const checkpoints = (
    await client
      .query('SELECT num_requested::float8 AS n FROM pg_stat_checkpointer')
      .catch(() => client.query('SELECT checkpoints_req::float8 AS n FROM pg_stat_bgwriter'))
  ).rows[0] as { n: number };
  return { bytes: wal.bytes, fullPageImages: wal.fpi, checkpointsRequested: checkpoints.n };
}

/** What was written between two readings, per record. */
export function walWritten(before: WalCounts, after: WalCounts, records: number): WalWritten {
  return {
    kBPerRecord: (after.bytes - before.bytes) / 1024 / records,
    fullPageImagesPerRecord: (after.fullPageImages - before.fullPageImages) / records,
    checkpointsRequested: after.checkpointsRequested - before.checkpointsRequested,
  };
}
