import 'reflect-metadata';
import { container as rootContainer, type DependencyContainer } from 'tsyringe';
import { DataSource } from 'typeorm';
import type { Clock } from './application/ports/clock.port';
import type { Settings } from './application/ports/settings.port';
import { TOKENS } from './application/ports/tokens';
import { PgApiKeyStore } from './infrastructure/persistence/pg-api-key-store';
import { PgDatabaseHealth } from './infrastructure/persistence/pg-database-health';
import { PgPriceCatalog } from './infrastructure/persistence/pg-price-catalog';
import { PgUsageErasure } from './infrastructure/persistence/pg-usage-erasure';
import { PgUsageQueries } from './infrastructure/persistence/pg-usage-queries';
import { PgUsageRepository } from './infrastructure/persistence/pg-usage-repository';

export const systemClock: Clock = { now: () => new Date() };

/** Wires every port to its adapter in a child container (one per app, so tests stay apart). */
export function createContainer(
  dataSource: DataSource,
  settings: Settings,
  clock: Clock = systemClock,
): DependencyContainer {
  const container = rootContainer.createChildContainer();
  container.registerInstance(DataSource, dataSource);
  container.registerInstance(TOKENS.Settings, settings);
  container.registerInstance(TOKENS.Clock, clock);
  container.registerSingleton(TOKENS.UsageRepository, PgUsageRepository);
  container.registerSingleton(TOKENS.UsageErasure, PgUsageErasure);
  container.registerSingleton(TOKENS.UsageQueries, PgUsageQueries);
  container.registerSingleton(TOKENS.PriceCatalog, PgPriceCatalog);
  container.registerSingleton(TOKENS.ApiKeyStore, PgApiKeyStore);
  container.registerSingleton(TOKENS.DatabaseHealth, PgDatabaseHealth);
  return container;
}
