import 'reflect-metadata';
import { join } from 'node:path';
import { TOKENS } from './application/ports/tokens';
import type { UsageQueries } from './application/ports/usage-queries.port';
import { createContainer } from './composition-root';
import { seedBuiltInCatalog } from './infrastructure/catalog/seed-catalog';
import { ConfigError, loadConfig } from './infrastructure/config';
import { startEmbeddedPostgres, type RunningPostgres } from './infrastructure/embedded-postgres';
import { devJwtSecret } from './infrastructure/jwt-secret';
import { createDataSource, migrate, POOL_SIZE } from './infrastructure/persistence/data-source';
import { maintainStorage } from './infrastructure/persistence/maintenance';
import { startRollupFolder } from './infrastructure/persistence/pg-rollup-folder';
import { warmUpConnections } from './infrastructure/persistence/warm-up';
import { buildApp } from './interface/http/app';

const HOUR_MS = 60 * 60 * 1000;

async function main(): Promise<void> {
  const config = loadConfig(process.env);
  const say = (message: string): void => console.log(`[tokentally] ${message}`);

  let embedded: RunningPostgres | undefined;
  let databaseUrl = config.databaseUrl;
  if (!databaseUrl) {
    say(`starting the embedded PostgreSQL (data in ${join(config.dataDir, 'pg')}; set DATABASE_URL to use your own)`);
    embedded = await startEmbeddedPostgres({
      dir: join(config.dataDir, 'pg'),
      log: (m) => config.logLevel === 'debug' && say(m),
    });
    if (embedded.dir !== join(process.cwd(), config.dataDir, 'pg'))
      say(`embedded PostgreSQL data is in ${embedded.dir}`);
    databaseUrl = embedded.url;
  }

  let jwt = { secret: config.jwtSecret, publicKey: config.jwtPublicKey };
  if (!jwt.secret && !jwt.publicKey) {
    const dev = devJwtSecret(config.dataDir);
    say(
      `${dev.created ? 'generated a JWT signing secret in' : 'using the JWT signing secret in'} ${dev.path} (set JWT_SECRET or JWT_PUBLIC_KEY in production)`,
    );
    jwt = { secret: dev.secret, publicKey: undefined };
  }

  const dataSource = createDataSource(databaseUrl);
  const stopDatabase = async (): Promise<void> => {
    if (dataSource.isInitialized) await dataSource.destroy();
    await embedded?.stop();
  };
  try {
    await dataSource.initialize();
    await migrate(dataSource);
    await maintainStorage(dataSource, new Date(), config.rawRetentionDays);
    const seeded = await seedBuiltInCatalog(dataSource);
    if (seeded.loaded) say(`loaded ${seeded.models} models into the built-in price catalog`);
  } catch (error) {
    await stopDatabase();
    throw error;
  }

  const container = createContainer(dataSource, {
    deploymentMode: config.deploymentMode,
    maxBatchRecords: config.maxBatchRecords,
    rawRetentionDays: config.rawRetentionDays,
  });
  const app = await buildApp({
    container,
    jwt,
    deploymentMode: config.deploymentMode,
    maxBatchRecords: config.maxBatchRecords,
    logLevel: config.logLevel,
  });
  await warmUpConnections(container.resolve<UsageQueries>(TOKENS.UsageQueries), POOL_SIZE, new Date());
  const maintenance = setInterval(() => {
    maintainStorage(dataSource, new Date(), config.rawRetentionDays).catch((error: unknown) =>
      app.log.error({ err: error }, 'storage maintenance failed'),
    );
  }, HOUR_MS);
  maintenance.unref();
  const folder = startRollupFolder(dataSource, (error: unknown) =>
    app.log.error({ err: error }, 'folding pending usage into the rollups failed'),
  );

  let stopping = false;
  const shutdown = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    say(`${signal} received, shutting down`);
    clearInterval(maintenance);
    await folder.stop();
    await app.close();
    await stopDatabase();
    say('stopped');
    process.exit(0);
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => void shutdown(signal));

  try {
    await app.listen({ port: config.port, host: config.host });
  } catch (error) {
    await stopDatabase();
    throw error;
  }
  const base = `http://${config.host}:${config.port}`;
  say(`listening on ${base} (${config.deploymentMode}); API docs at ${base}/docs`);
  if (jwt.secret && !config.jwtSecret) say('get a token with: npm run token -- --sub alice --role admin');
}

main().catch((error: unknown) => {
  console.error(error instanceof ConfigError ? error.message : error);
  process.exit(1);
});
