import type { DataSource } from 'typeorm';
import { ensurePartitions } from './partitions';

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * Keeps storage ready for what ingest may accept: monthly partitions from the start of the
 * retention window to two months ahead. The service runs this at start and every hour.
 */
export async function maintainStorage(db: DataSource, now: Date, rawRetentionDays: number): Promise<void> {
  await ensurePartitions(
    db,
    new Date(now.getTime() - rawRetentionDays * DAY_MS),
    new Date(now.getTime() + 62 * DAY_MS),
  );
}
