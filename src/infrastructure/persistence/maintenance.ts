import type { DataSource } from 'typeorm';
import { dropPartitionsBefore, ensurePartitions } from './partitions';
import { forgetSlotsBefore } from './pg-rollup-folder';

const DAY_MS = 24 * 60 * 60 * 1000;

export interface StorageChanges {
  /** partitions created ahead of time */
  created: string[];
  /** partitions dropped because all of their range is past the raw retention window */
  dropped: string[];
}

/**
 * Keeps storage ready for what ingest may accept and forgets what it no longer keeps:
 * monthly partitions from the start of the retention window to two months ahead, and the
 * partitions wholly older than the window dropped. Ingest rejects records older than the
 * same window, so no record is ever routed to a dropped month; the rollups and the dedup
 * ledger are kept, except the 15-minute provider slots, which only cover the raw months.
 * The service runs this at start and every hour.
 */
export async function maintainStorage(db: DataSource, now: Date, rawRetentionDays: number): Promise<StorageChanges> {
  const cutoff = new Date(now.getTime() - rawRetentionDays * DAY_MS);
  const created = await ensurePartitions(db, cutoff, new Date(now.getTime() + 62 * DAY_MS));
  // the 15-minute slots go with the raw months they were made from, first: an erasure
  // takes a user's share out of them by the user's raw records
  await forgetSlotsBefore(db, new Date(Date.UTC(cutoff.getUTCFullYear(), cutoff.getUTCMonth(), 1)));
  const dropped = await dropPartitionsBefore(db, cutoff);
  return { created, dropped };
}
