import { DataSource } from 'typeorm';
import { ENTITIES } from './entities';
import { InitialSchema1700000000001 } from '../../../migrations/1700000000001-initial-schema';
import { CoarserRollups1700000000002 } from '../../../migrations/1700000000002-coarser-rollups';
import { UserHourlyIndex1700000000003 } from '../../../migrations/1700000000003-user-hourly-index';
import { DailyAndProviderRollups1700000000004 } from '../../../migrations/1700000000004-daily-and-provider-rollups';
import { MonthlyUserRollups1700000000005 } from '../../../migrations/1700000000005-monthly-user-rollups';
import { CoarseModelProviderRollups1700000000006 } from '../../../migrations/1700000000006-coarse-model-provider-rollups';
import { PendingRollups1700000000007 } from '../../../migrations/1700000000007-pending-rollups';
import { LeanerHourlyRollups1700000000008 } from '../../../migrations/1700000000008-leaner-hourly-rollups';
import { ProviderSlotRollup1700000000009 } from '../../../migrations/1700000000009-provider-slot-rollup';

export const MIGRATIONS = [
  InitialSchema1700000000001,
  CoarserRollups1700000000002,
  UserHourlyIndex1700000000003,
  DailyAndProviderRollups1700000000004,
  MonthlyUserRollups1700000000005,
  CoarseModelProviderRollups1700000000006,
  PendingRollups1700000000007,
  LeanerHourlyRollups1700000000008,
  ProviderSlotRollup1700000000009,
];

/** Any fixed number: every instance takes the same lock before migrating. */
const MIGRATION_LOCK_KEY = 727_412_001;

export function createDataSource(url: string, poolSize = 10): DataSource {
  return new DataSource({
    type: 'postgres',
    url,
    // the plain CRUD tables; ingest, the fold, erasure and the usage queries speak SQL
    entities: ENTITIES,
    migrations: MIGRATIONS,
    migrationsTransactionMode: 'each',
    synchronize: false,
    logging: false,
    extra: {
      max: poolSize,
      // sessions speak UTC; time zones are always named explicitly in queries
      options: '-c TimeZone=UTC',
    },
  });
}

/** Applies pending migrations; concurrent starts wait for each other on an advisory lock. */
export async function migrate(dataSource: DataSource): Promise<void> {
  const runner = dataSource.createQueryRunner();
  await runner.connect();
  try {
    await runner.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    await dataSource.runMigrations();
  } finally {
    await runner.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => undefined);
    await runner.release();
  }
}
