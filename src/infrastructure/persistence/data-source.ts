import { DataSource } from 'typeorm';
import type { DatabaseTimeouts } from '../config';
import { Baseline1764806400000 } from '../../../migrations/1764806400000-baseline';
import { PlansAndQuotas1764979200000 } from '../../../migrations/1764979200000-plans-and-quotas';
import { Webhooks1765000000000 } from '../../../migrations/1765000000000-webhooks';
import { TokenSource1796447186253 } from '../../../migrations/1796447186253-token-source';
import { QuotaReserveBatch1796447302551 } from '../../../migrations/1796447302551-quota-reserve-batch';
import { PricingTruth1796450757401 } from '../../../migrations/1796450757401-pricing-truth';
import { OperationDimension1796500000000 } from '../../../migrations/1796500000000-operation-dimension';
import { RepricingHistory1796510000000 } from '../../../migrations/1796510000000-repricing-history';
import { QuotaUsageFillfactor1796520000000 } from '../../../migrations/1796520000000-quota-usage-fillfactor';
import { PerUserRollups1796530000000 } from '../../../migrations/1796530000000-per-user-rollups';
import { QuotaReserveCachedPlan1796540000000 } from '../../../migrations/1796540000000-quota-reserve-cached-plan';
import { QuotaReserveEndedRetry1796550000000 } from '../../../migrations/1796550000000-quota-reserve-ended-retry';
import { PurgeIndexes1796560000000 } from '../../../migrations/1796560000000-purge-indexes';
import { OneHourCacheWrites1796570000000 } from '../../../migrations/1796570000000-one-hour-cache-writes';
import { LongContextPrices1796580000000 } from '../../../migrations/1796580000000-long-context-prices';
import { TimeOfDayPrices1796590000000 } from '../../../migrations/1796590000000-time-of-day-prices';
import { UserModelKeysCarryPageMetrics1796600000000 } from '../../../migrations/1796600000000-user-model-keys-carry-page-metrics';
import { QuarterDayProviders1796610000000 } from '../../../migrations/1796610000000-quarter-day-providers';
import { MonthlyUserLastActivity1796620000000 } from '../../../migrations/1796620000000-monthly-user-last-activity';
import { ADVISORY_LOCKS } from './advisory-locks';
import { ENTITIES } from './entities';

export const MIGRATIONS = [
  Baseline1764806400000,
  PlansAndQuotas1764979200000,
  Webhooks1765000000000,
  TokenSource1796447186253,
  QuotaReserveBatch1796447302551,
  PricingTruth1796450757401,
  OperationDimension1796500000000,
  RepricingHistory1796510000000,
  QuotaUsageFillfactor1796520000000,
  PerUserRollups1796530000000,
  QuotaReserveCachedPlan1796540000000,
  QuotaReserveEndedRetry1796550000000,
  PurgeIndexes1796560000000,
  OneHourCacheWrites1796570000000,
  LongContextPrices1796580000000,
  TimeOfDayPrices1796590000000,
  UserModelKeysCarryPageMetrics1796600000000,
  QuarterDayProviders1796610000000,
  MonthlyUserLastActivity1796620000000,
];

/** Connections the service keeps open. */
export const POOL_SIZE = 10;

export interface PoolOptions {
  /** limits on waiting for the database (see config.ts); absent or 0: wait as long as it takes */
  timeouts?: Partial<DatabaseTimeouts>;
  /**
   * An idle pooled connection failed (the server restarted, the network dropped it): the pool
   * has already discarded it and opens a new one when needed. By default nothing is said.
   */
  onIdleConnectionError?: (error: Error) => void;
}

export function createDataSource(url: string, poolSize = POOL_SIZE, options: PoolOptions = {}): DataSource {
  const connectMs = options.timeouts?.connectMs ?? 0;
  const statementMs = options.timeouts?.statementMs ?? 0;
  return new DataSource({
    type: 'postgres',
    url,
    // the plain CRUD tables; ingest, the fold, erasure and the usage queries speak SQL
    entities: ENTITIES,
    migrations: MIGRATIONS,
    migrationsTransactionMode: 'each',
    synchronize: false,
    logging: false,
    // without a listener, an idle connection's failure would be an uncaught 'error' event
    poolErrorHandler: options.onIdleConnectionError ?? (() => undefined),
    extra: {
      max: poolSize,
      // idle connections stay open: a new backend plans its first statements slowly (it loads
      // the catalog), so a dashboard opened after a pause would pay for it again
      idleTimeoutMillis: 0,
      // sessions speak UTC; time zones are always named explicitly in queries
      options: '-c TimeZone=UTC',
      // a connect, or a wait for a free connection, fails after this instead of queueing forever
      ...(connectMs > 0 ? { connectionTimeoutMillis: connectMs } : {}),
      // PostgreSQL cancels a statement that runs longer (SQLSTATE 57014), on every connection the
      // pool opens, also after a reconnect
      ...(statementMs > 0 ? { statement_timeout: statementMs } : {}),
      // a connection whose server vanished without closing it is noticed by TCP keepalive
      keepAlive: true,
    },
  });
}

/** Applies pending migrations; concurrent starts wait for each other on an advisory lock. */
export async function migrate(dataSource: DataSource): Promise<void> {
  const runner = dataSource.createQueryRunner();
  await runner.connect();
  try {
    await runner.query('SELECT pg_advisory_lock($1)', [ADVISORY_LOCKS.migrations]);
    await dataSource.runMigrations();
  } finally {
    await runner.query('SELECT pg_advisory_unlock($1)', [ADVISORY_LOCKS.migrations]).catch(() => undefined);
    await runner.release();
  }
}
