import type { DataSource, QueryRunner } from 'typeorm';
import { ADVISORY_LOCKS } from './advisory-locks';

/**
 * Runs `work` in one REPEATABLE READ transaction while holding the fold's lock, taken as a
 * session lock before the transaction's snapshot: the snapshot sees the last fold, and no
 * fold runs until the transaction ended. For the writers of the rollups besides the fold
 * (erasure, re-pricing); ingest and reads never wait for it.
 */
export async function withRollupLock<T>(db: DataSource, work: (runner: QueryRunner) => Promise<T>): Promise<T> {
  const runner = db.createQueryRunner();
  await runner.connect();
  try {
    await runner.query('SELECT pg_advisory_lock($1)', [ADVISORY_LOCKS.rollups]);
    try {
      await runner.startTransaction('REPEATABLE READ');
      try {
        const result = await work(runner);
        await runner.commitTransaction();
        return result;
      } catch (error) {
        await runner.rollbackTransaction();
        throw error;
      }
    } finally {
      await runner.query('SELECT pg_advisory_unlock($1)', [ADVISORY_LOCKS.rollups]);
    }
  } finally {
    await runner.release();
  }
}
