import type { DependencyContainer } from 'tsyringe';
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { createSigner } from 'fast-jwt';
import pg from 'pg';
import type { DataSource } from 'typeorm';
import { inject } from 'vitest';
import type { Clock } from '../../src/application/ports/clock.port';
import {
  createContainer,
  startService,
  systemClock,
  type ContainerOptions,
  type RunningService,
  type ServiceOptions,
} from '../../src/composition-root';
import type { DeploymentMode } from '../../src/domain/deployment-mode';
import type { ProxyConfig } from '../../src/infrastructure/config';
import { createDataSource } from '../../src/infrastructure/persistence/data-source';
import { buildApp } from '../../src/interface/http/app';
import type { RateLimitSettings } from '../../src/interface/http/rate-limit';

export const TEST_JWT_SECRET = 'test-secret-that-is-long-enough-for-hs256-0123456789';
const TEMPLATE_DATABASE = 'tokentally_template';

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

/** A fresh database cloned from the migrated, seeded template. */
export async function createTestDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const serverUrl = inject('postgresUrl');
  const name = `test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name} TEMPLATE ${TEMPLATE_DATABASE}`);
  await admin.end();
  return {
    url: withDatabase(serverUrl, name),
    drop: async () => {
      const client = new pg.Client({ connectionString: serverUrl });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await client.end();
    },
  };
}

export interface TestAppOptions {
  deploymentMode?: DeploymentMode;
  clock?: Clock;
  maxBatchRecords?: number;
  rawRetentionDays?: number;
  /** how long a request may take to arrive before the server answers 408 */
  requestTimeoutMs?: number;
  /** reuse the database of another test app (e.g. to compare deployment modes) */
  databaseUrl?: string;
  /** requests per API key, user or address; absent: not limited */
  rateLimit?: RateLimitSettings;
  /** where the proxy forwards calls (a fake upstream on loopback) */
  proxy?: ProxyConfig;
  /** ingest statements at once and the longest wait for a turn; absent: as the service */
  ingest?: ContainerOptions['ingest'];
  /** connections of the app's pool (default 5); with 1, `db` queries share the app's session */
  poolSize?: number;
}

export interface TestApp {
  app: FastifyInstance;
  db: DataSource;
  /** the app's container, to reach a use case directly */
  container: DependencyContainer;
  databaseUrl: string;
  token(sub: string, claims?: { role?: 'admin' | 'member'; workspaceId?: string; expiresInMs?: number }): string;
  close(): Promise<void>;
}

export async function createTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const database = options.databaseUrl
    ? { url: options.databaseUrl, drop: async () => undefined }
    : await createTestDatabase();
  const db = createDataSource(database.url, options.poolSize ?? 5);
  await db.initialize();
  const settings = {
    deploymentMode: options.deploymentMode ?? 'self-hosted',
    maxBatchRecords: options.maxBatchRecords ?? 1000,
    rawRetentionDays: options.rawRetentionDays ?? 3650,
  };
  const container = createContainer(db, settings, options.clock ?? systemClock, { ingest: options.ingest });
  const app = await buildApp({
    container,
    jwt: { secret: TEST_JWT_SECRET },
    ...settings,
    logLevel: process.env.TEST_LOG_LEVEL ?? 'silent',
    requestTimeoutMs: options.requestTimeoutMs,
    rateLimit: options.rateLimit,
    proxy: options.proxy,
  });
  await app.ready();
  return {
    app,
    db,
    container,
    databaseUrl: database.url,
    token(sub, claims = {}) {
      return signTestToken({
        sub,
        role: claims.role ?? 'member',
        workspaceId: claims.workspaceId ?? 'default',
        expiresInMs: claims.expiresInMs,
      });
    },
    async close() {
      await app.close();
      await db.destroy();
      await database.drop();
    },
  };
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** A token every test app and test service accepts: signed with TEST_JWT_SECRET, valid for an hour unless said. */
export function signTestToken(claims: {
  sub: string;
  role: 'admin' | 'member';
  workspaceId: string;
  expiresInMs?: number;
}): string {
  const { expiresInMs = 3_600_000, ...payload } = claims;
  return createSigner({ key: TEST_JWT_SECRET, algorithm: 'HS256', expiresIn: expiresInMs })(payload);
}

/**
 * The whole service (migrations, fold, pools, HTTP app not listening) on `databaseUrl`, as the
 * tests start it: self-hosted, ten years of raw records, the test secret, quiet logs.
 */
export function startTestService(
  databaseUrl: string,
  options: Omit<Partial<ServiceOptions>, 'settings'> & { settings?: Partial<ServiceOptions['settings']> } = {},
): Promise<RunningService> {
  return startService({
    databaseUrl,
    jwt: { secret: TEST_JWT_SECRET },
    logLevel: process.env.TEST_LOG_LEVEL ?? 'silent',
    ...options,
    settings: { deploymentMode: 'self-hosted', maxBatchRecords: 1000, rawRetentionDays: 3650, ...options.settings },
  });
}
