import 'reflect-metadata';
import type { FastifyInstance } from 'fastify';
import { container as rootContainer, type DependencyContainer } from 'tsyringe';
import { DataSource } from 'typeorm';
import type { Clock } from './application/ports/clock.port';
import type { Settings } from './application/ports/settings.port';
import { TOKENS } from './application/ports/tokens';
import type { UsageQueries } from './application/ports/usage-queries.port';
import { showsCost } from './domain/deployment-mode';
import { seedBuiltInCatalog, type CatalogPriceChange } from './infrastructure/catalog/seed-catalog';
import { defaultIngestStatements, type DatabaseTimeouts, type ProxyConfig } from './infrastructure/config';
import { createDataSource, migrate, POOL_SIZE } from './infrastructure/persistence/data-source';
import { prepareStorage, startStorageMaintenance } from './infrastructure/persistence/maintenance';
import { PgPlanStore } from './infrastructure/persistence/pg-plan-store';
import { PgQuotaStore } from './infrastructure/persistence/pg-quota-store';
import { PgApiKeyStore } from './infrastructure/persistence/pg-api-key-store';
import { PgDatabaseHealth } from './infrastructure/persistence/pg-database-health';
import { PgLiveUsage } from './infrastructure/persistence/pg-live-usage';
import { PgPriceCatalog } from './infrastructure/persistence/pg-price-catalog';
import { startRollupFolder } from './infrastructure/persistence/pg-rollup-folder';
import { PgUsageErasure } from './infrastructure/persistence/pg-usage-erasure';
import { PgUsageExport } from './infrastructure/persistence/pg-usage-export';
import { PgRepricing, settleQuotaDeltas } from './infrastructure/persistence/pg-repricing';
import { PgUsageQueries } from './infrastructure/persistence/pg-usage-queries';
import { PgUsageRepository } from './infrastructure/persistence/pg-usage-repository';
import { PgTimeZoneRules } from './infrastructure/persistence/pg-time-zone-rules';
import { IngestStatementSlots } from './infrastructure/persistence/statement-slots';
import { warmUpConnections } from './infrastructure/persistence/warm-up';
import { PublicDestinationGuard, systemHostResolver, type HostResolver } from './infrastructure/webhooks/destination';
import { PgWebhookEndpointStore } from './infrastructure/webhooks/pg-webhook-endpoint-store';
import { PgWebhookOutbox } from './infrastructure/webhooks/pg-webhook-outbox';
import { startWebhookWorker, type WebhookWorkerOptions } from './infrastructure/webhooks/webhook-delivery-worker';
import { buildApp } from './interface/http/app';
import type { RateLimitSettings } from './interface/http/rate-limit';
import type { JwtKeys } from './interface/http/auth';

export const systemClock: Clock = { now: () => new Date() };

export interface ContainerOptions {
  /** how webhook destinations are resolved (tests point them at loopback) */
  resolveHost?: HostResolver;
  /** ingest statements at once, and how long a batch waits for its turn (ms, 0: no limit) */
  ingest?: { statements?: number; maxWaitMs?: number };
}

/** Wires every port to its adapter in a child container (one per app, so tests stay apart). */
export function createContainer(
  dataSource: DataSource,
  settings: Settings,
  clock: Clock = systemClock,
  options: ContainerOptions = {},
): DependencyContainer {
  const container = rootContainer.createChildContainer();
  container.registerInstance(DataSource, dataSource);
  container.registerInstance(
    IngestStatementSlots,
    new IngestStatementSlots(options.ingest?.statements ?? defaultIngestStatements(), options.ingest?.maxWaitMs ?? 0),
  );
  container.registerInstance(TOKENS.Settings, settings);
  container.registerInstance(TOKENS.Clock, clock);
  container.registerSingleton(TOKENS.UsageRepository, PgUsageRepository);
  container.registerSingleton(TOKENS.UsageErasure, PgUsageErasure);
  container.registerSingleton(TOKENS.UsageQueries, PgUsageQueries);
  container.registerSingleton(TOKENS.LiveUsage, PgLiveUsage);
  container.registerSingleton(TOKENS.UsageExport, PgUsageExport);
  container.registerSingleton(TOKENS.PriceCatalog, PgPriceCatalog);
  container.registerSingleton(TOKENS.ApiKeyStore, PgApiKeyStore);
  container.registerSingleton(TOKENS.PlanStore, PgPlanStore);
  container.registerSingleton(TOKENS.QuotaStore, PgQuotaStore);
  container.registerSingleton(TOKENS.DatabaseHealth, PgDatabaseHealth);
  container.registerSingleton(TOKENS.WebhookEndpointStore, PgWebhookEndpointStore);
  container.registerSingleton(TOKENS.WebhookOutbox, PgWebhookOutbox);
  container.registerSingleton(TOKENS.RepricingStore, PgRepricing);
  container.registerSingleton(TOKENS.TimeZoneRules, PgTimeZoneRules);
  container.registerInstance(
    TOKENS.WebhookDestinationGuard,
    new PublicDestinationGuard(options.resolveHost ?? systemHostResolver),
  );
  return container;
}

const HOUR_MS = 60 * 60 * 1000;

export interface ServiceOptions {
  databaseUrl: string;
  settings: Settings;
  jwt: JwtKeys;
  logLevel?: string;
  /** the requests' limits; the background work waits as long as its statements need */
  timeouts?: Partial<DatabaseTimeouts>;
  /** connections kept for requests (every one is warmed up) */
  poolSize?: number;
  clock?: Clock;
  foldIntervalMs?: number;
  maintenanceIntervalMs?: number;
  /** the webhook delivery worker's schedule, poll interval, timeout … (tests shorten them) */
  webhooks?: Omit<WebhookWorkerOptions, 'deploymentMode'>;
  /** requests per API key, user or anonymous address; absent: not limited */
  rateLimit?: RateLimitSettings;
  /** where the proxy forwards calls; absent: the providers' own APIs */
  proxy?: ProxyConfig;
  /** ingest statements at once (INGEST_STATEMENTS); absent: half the cores */
  ingestStatements?: number;
}

export interface RunningService {
  app: FastifyInstance;
  /** the requests' connections */
  dataSource: DataSource;
  /** the connections of the migrations, the fold and storage maintenance */
  background: DataSource;
  /** models loaded into the built-in catalog at this start (0: it was up to date) */
  seededModels: number;
  /** stops the background work, the HTTP app and both pools; the database is left running */
  stop(): Promise<void>;
}

/**
 * The service on a database: migrated, the raw months it may accept partitioned, the built-in
 * catalog loaded, the HTTP app built (not listening), its connections warmed up, the rollup fold
 * and storage maintenance (at once, then hourly) running in the background.
 *
 * Requests and background work have pools of their own: a fold of a backlog or a partition
 * detach waiting for running queries may take longer than a request's statement timeout, and
 * never holds a connection a request waits for. Nothing in the background can end the process
 * when the database goes away: the pools replace failed connections when asked for one, the
 * fold retries with a growing pause, maintenance runs again an hour later, and a failed warm-up
 * only leaves the first dashboard requests slower.
 */
export async function startService(options: ServiceOptions): Promise<RunningService> {
  const poolSize = options.poolSize ?? POOL_SIZE;
  let app: FastifyInstance | undefined;
  const idleFailure = (pool: string) => (error: Error) =>
    app?.log.warn(
      { cause: error.message },
      `an idle ${pool} database connection failed; a new one is opened when needed`,
    );
  const dataSource = createDataSource(options.databaseUrl, poolSize, {
    timeouts: options.timeouts,
    onIdleConnectionError: idleFailure('request'),
  });
  // migrate holds one connection for its lock while the migrations run on another; afterwards
  // the fold, maintenance and the webhook worker share them
  const background = createDataSource(options.databaseUrl, 3, {
    timeouts: { connectMs: options.timeouts?.connectMs },
    onIdleConnectionError: idleFailure('background'),
  });
  const destroyPools = async (): Promise<void> => {
    await Promise.all([dataSource, background].map((db) => (db.isInitialized ? db.destroy() : undefined)));
  };

  let seededModels = 0;
  let catalogPriceChanges: CatalogPriceChange[] = [];
  try {
    await background.initialize();
    await migrate(background);
    // the rest of maintenance runs once the service is up: it may wait for other sessions
    await prepareStorage(background, new Date(), options.settings.rawRetentionDays);
    const seeded = await seedBuiltInCatalog(background, options.settings.rawRetentionDays);
    if (seeded.loaded) seededModels = seeded.models;
    catalogPriceChanges = seeded.priceChanges;
    await dataSource.initialize();
  } catch (error) {
    await destroyPools();
    throw error;
  }

  const container = createContainer(dataSource, options.settings, options.clock ?? systemClock, {
    resolveHost: options.webhooks?.resolveHost,
    // a batch waits for its turn as long as it would for a pool connection
    ingest: { statements: options.ingestStatements, maxWaitMs: options.timeouts?.connectMs ?? 0 },
  });
  try {
    app = await buildApp({
      container,
      jwt: options.jwt,
      deploymentMode: options.settings.deploymentMode,
      maxBatchRecords: options.settings.maxBatchRecords,
      logLevel: options.logLevel,
      rateLimit: options.rateLimit,
      proxy: options.proxy,
    });
  } catch (error) {
    await destroyPools();
    throw error;
  }
  const log = app.log;
  if (catalogPriceChanges.length > 0) {
    const differing = catalogPriceChanges.filter((c) => c.rawWindowRequests > 0);
    log.warn(
      {
        changedModels: catalogPriceChanges.map(
          (c) => `${c.provider}/${c.model} (${c.rawWindowRequests} requests in the raw window)`,
        ),
      },
      `the built-in catalog changed the prices of ${catalogPriceChanges.length} models; history in the raw window ` +
        (differing.length > 0
          ? `differs for ${differing.length} of them (${differing.map((c) => `${c.provider}/${c.model}`).join(', ')})`
          : 'does not differ') +
        '; recorded costs are kept as they are until an admin re-prices them (POST /v1/admin/repricing)',
    );
  }

  try {
    await settleQuotaDeltas(background, showsCost(options.settings.deploymentMode));
  } catch (error) {
    log.error({ err: error }, 'adding re-pricing changes to the quota counts failed; they are added at the next start');
  }

  try {
    await warmUpConnections(container.resolve<UsageQueries>(TOKENS.UsageQueries), poolSize, new Date());
  } catch (error) {
    log.warn({ err: error }, 'warming up the database connections failed; the first dashboard requests will be slower');
  }

  const maintenance = startStorageMaintenance(
    background,
    options.settings.rawRetentionDays,
    options.maintenanceIntervalMs ?? HOUR_MS,
    (error) => log.error({ err: error }, 'storage maintenance failed; it runs again within the hour'),
  );
  const folder = startRollupFolder(
    background,
    {
      onError: (error) => log.error({ err: error }, 'folding pending usage into the rollups failed; retrying'),
      onRecovered: (failures) =>
        log.info(`folding pending usage into the rollups again after ${failures} failed rounds`),
    },
    options.foldIntervalMs,
  );
  const webhooks = startWebhookWorker(
    background,
    { ...options.webhooks, deploymentMode: options.settings.deploymentMode },
    {
      onError: (error) => log.error({ err: error }, 'delivering webhooks failed; retrying'),
      onRecovered: (failures) => log.info(`delivering webhooks again after ${failures} failed rounds`),
    },
  );

  let stopping: Promise<void> | undefined;
  return {
    app,
    dataSource,
    background,
    seededModels,
    stop() {
      stopping ??= (async () => {
        await maintenance.stop();
        await folder.stop();
        await webhooks.stop();
        await app.close();
        await destroyPools();
      })();
      return stopping;
    },
  };
}
