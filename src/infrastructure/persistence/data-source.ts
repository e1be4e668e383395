import { DataSource } from 'typeorm';
import { Baseline1764806400000 } from '../../../migrations/1764806400000-baseline';
import { ENTITIES } from './entities';

export const MIGRATIONS = [Baseline1764806400000];

/** Any fixed number: every instance takes the same lock before migrating. */
const MIGRATION_LOCK_KEY = 727_412_001;

/** Connections the service keeps open. */
export const POOL_SIZE = 10;

export function createDataSource(url: string, poolSize = POOL_SIZE): DataSource {
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
      // idle connections stay open: a new backend plans its first statements slowly (it loads
      // the catalog), so a dashboard opened after a pause would pay for it again
      idleTimeoutMillis: 0,
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
