import type { DataSource } from 'typeorm';
import { MAX_RESERVATION_TTL_SECONDS } from '../../domain/plan';
import { dropPartitionsBefore, ensurePartitions } from './partitions';
import { compactPendingIndex } from './pending-index';
import { forgetSlotsBefore } from './pg-rollup-folder';

const DAY_MS = 24 * 60 * 60 * 1000;
/** A reservation ends within its TTL; a day after the longest one, even a late retry of it is over. */
const RESERVATIONS_KEPT_MS = MAX_RESERVATION_TTL_SECONDS * 1000 + DAY_MS;
/** Webhook events and their delivery log: a month to look back on, unless still being delivered. */
const WEBHOOK_EVENTS_KEPT_MS = 30 * DAY_MS;
/** Rows deleted per statement: short locks, and a backlog goes in steps. */
const PURGE_BATCH = 10_000;

export interface StorageChanges {
  /** partitions created ahead of time */
  created: string[];
  /** partitions dropped because all of their range is past the raw retention window */
  dropped: string[];
  /** reservations and webhook events forgotten by age */
  forgotten: { reservations: number; webhookEvents: number };
  /** the pending queue's index rebuilt, a backlog having left it large (pending-index.ts) */
  pendingIndexRebuilt: boolean;
}

/**
 * Keeps storage ready for what ingest may accept and forgets what it no longer keeps:
 * monthly partitions from the start of the retention window to two months ahead, and the
 * partitions wholly older than the window dropped. Ingest rejects records older than the
 * same window, so no record is ever routed to a dropped month; the rollups and the dedup
 * ledger are kept, except the 15-minute provider slots, which only cover the raw months.
 * Reservations are forgotten a day after they can last no longer, webhook events (with their
 * deliveries and attempts) after 30 days unless a delivery is still pending. The pending
 * queue's index is rebuilt where a backlog left it large.
 * The service runs this at start and every hour.
 */
export async function maintainStorage(db: DataSource, now: Date, rawRetentionDays: number): Promise<StorageChanges> {
  const cutoff = new Date(now.getTime() - rawRetentionDays * DAY_MS);
  const created = await ensurePartitions(db, cutoff, new Date(now.getTime() + 62 * DAY_MS));
  // the 15-minute slots go with the raw months they were made from, first: an erasure
  // takes a user's share out of them by the user's raw records
  await forgetSlotsBefore(db, new Date(Date.UTC(cutoff.getUTCFullYear(), cutoff.getUTCMonth(), 1)));
  const dropped = await dropPartitionsBefore(db, cutoff);
  const forgotten = {
    reservations: await deleteInBatches(
      db,
      `DELETE FROM quota_reservations WHERE ctid = ANY (ARRAY(
         SELECT ctid FROM quota_reservations WHERE created_at < $1 LIMIT ${PURGE_BATCH}))`,
      [new Date(now.getTime() - RESERVATIONS_KEPT_MS)],
    ),
    webhookEvents: await deleteInBatches(
      db,
      `DELETE FROM webhook_events WHERE ctid = ANY (ARRAY(
         SELECT e.ctid FROM webhook_events e WHERE e.created_at < $1
           AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d
                           WHERE d.workspace_id = e.workspace_id AND d.event_id = e.id AND d.status = 'pending')
         LIMIT ${PURGE_BATCH}))`,
      [new Date(now.getTime() - WEBHOOK_EVENTS_KEPT_MS)],
    ),
  };
  return { created, dropped, forgotten, pendingIndexRebuilt: await compactPendingIndex(db) };
}

async function deleteInBatches(db: DataSource, sql: string, params: unknown[]): Promise<number> {
  let deleted = 0;
  for (;;) {
    const [, affected] = (await db.query(sql, params)) as [unknown, number];
    deleted += affected;
    if (affected < PURGE_BATCH) return deleted;
  }
}
