import type { DataSource } from 'typeorm';
import { MAX_RESERVATION_TTL_SECONDS } from '../../domain/plan';
import { dropPartitionsBefore, ensurePartitions } from './partitions';
import { compactPendingIndex, type PendingIndexLimits } from './pending-index';
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
 * The service runs this in the background, right after it starts and every hour. `signal` ends
 * a run between two steps (a statement each, at most a second's wait for a detach): every step
 * is safe to leave half done, and the next run does the rest.
 */
export async function maintainStorage(
  db: DataSource,
  now: Date,
  rawRetentionDays: number,
  pendingIndex?: PendingIndexLimits,
  signal?: AbortSignal,
): Promise<StorageChanges> {
  const changes: StorageChanges = {
    created: await prepareStorage(db, now, rawRetentionDays),
    dropped: [],
    forgotten: { reservations: 0, webhookEvents: 0 },
    pendingIndexRebuilt: false,
  };
  const cutoff = retentionCutoff(now, rawRetentionDays);
  if (signal?.aborted) return changes;
  // the 15-minute slots go with the raw months they were made from, first: an erasure
  // takes a user's share out of them by the user's raw records
  await forgetSlotsBefore(db, new Date(Date.UTC(cutoff.getUTCFullYear(), cutoff.getUTCMonth(), 1)));
  if (signal?.aborted) return changes;
  changes.dropped = await dropPartitionsBefore(db, cutoff, signal);
  changes.forgotten.reservations = await deleteInBatches(
    db,
    `DELETE FROM quota_reservations WHERE ctid = ANY (ARRAY(
         SELECT ctid FROM quota_reservations WHERE created_at < $1 LIMIT ${PURGE_BATCH}))`,
    [new Date(now.getTime() - RESERVATIONS_KEPT_MS)],
    signal,
  );
  changes.forgotten.webhookEvents = await deleteInBatches(
    db,
    `DELETE FROM webhook_events WHERE ctid = ANY (ARRAY(
         SELECT e.ctid FROM webhook_events e WHERE e.created_at < $1
           AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d
                           WHERE d.workspace_id = e.workspace_id AND d.event_id = e.id AND d.status = 'pending')
         LIMIT ${PURGE_BATCH}))`,
    [new Date(now.getTime() - WEBHOOK_EVENTS_KEPT_MS)],
    signal,
  );
  if (signal?.aborted) return changes;
  changes.pendingIndexRebuilt = await compactPendingIndex(db, pendingIndex);
  return changes;
}

const retentionCutoff = (now: Date, rawRetentionDays: number): Date =>
  new Date(now.getTime() - rawRetentionDays * DAY_MS);

/**
 * What ingest needs before the first request: a partition for every month it may accept a
 * record of (the retention window, and two months ahead). The service awaits it at start; the
 * rest of maintenance may wait for other sessions (a partition is detached only once every
 * query that may read it has ended) and runs after the start.
 */
export function prepareStorage(db: DataSource, now: Date, rawRetentionDays: number): Promise<string[]> {
  return ensurePartitions(db, retentionCutoff(now, rawRetentionDays), new Date(now.getTime() + 62 * DAY_MS));
}

/**
 * Runs maintenance in the background: once right away, then every `intervalMs` after a run
 * ends. A failed run is reported and tried again at the next interval. `stop()` ends a run in
 * progress after its current step and waits for that, so the connections it uses can be closed
 * after.
 */
export function startStorageMaintenance(
  db: DataSource,
  rawRetentionDays: number,
  intervalMs: number,
  onError: (error: unknown) => void,
): { stop(): Promise<void> } {
  const stopping = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  const round = (): void => {
    running = maintainStorage(db, new Date(), rawRetentionDays, undefined, stopping.signal)
      .then(
        () => undefined,
        (error: unknown) => {
          if (!stopping.signal.aborted) onError(error);
        },
      )
      .then(() => {
        if (stopping.signal.aborted) return;
        timer = setTimeout(round, intervalMs);
        // the hourly round alone keeps no process alive
        timer.unref();
      });
  };
  round();
  return {
    async stop() {
      clearTimeout(timer);
      // a run in progress ends after its current step, not after a long purge or detach
      stopping.abort();
      await running;
    },
  };
}

async function deleteInBatches(db: DataSource, sql: string, params: unknown[], signal?: AbortSignal): Promise<number> {
  let deleted = 0;
  while (!signal?.aborted) {
    const [, affected] = (await db.query(sql, params)) as [unknown, number];
    deleted += affected;
    if (affected < PURGE_BATCH) break;
  }
  return deleted;
}
