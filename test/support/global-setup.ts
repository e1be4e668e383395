import 'reflect-metadata';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { seedBuiltInCatalog } from '../../src/infrastructure/catalog/seed-catalog';
import { startEmbeddedPostgres } from '../../src/infrastructure/embedded-postgres';
import { createDataSource, migrate } from '../../src/infrastructure/persistence/data-source';
import { ensurePartitions } from '../../src/infrastructure/persistence/partitions';

export const TEMPLATE_DATABASE = 'tokentally_template';

declare module 'vitest' {
  export interface ProvidedContext {
    postgresUrl: string;
  }
}

/** A PostgreSQL from Docker (testcontainers) where an engine answers, else an embedded one. */
async function startPostgres(): Promise<{ url: string; stop: () => Promise<void> }> {
  try {
    const { PostgreSqlContainer } = await import('@testcontainers/postgresql');
    const container = await new PostgreSqlContainer('postgres:17-alpine')
      .withCommand(['postgres', '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'max_connections=200'])
      .start();
    console.log('[tests] PostgreSQL in Docker (testcontainers)');
    return { url: container.getConnectionUri(), stop: async () => void (await container.stop()) };
  } catch (error) {
    console.log(`[tests] no Docker (${String((error as Error).message).split('\n')[0]}); using embedded PostgreSQL`);
  }
  // The OS temp folder, not the checkout: the postgres user must be able to enter it.
  const dir = mkdtempSync(join(tmpdir(), 'tokentally-test-'));
  // as root, PostgreSQL runs as the postgres user, which must enter it (else the cluster moves
  // to a folder of its own under /var/tmp, which this clean-up would leave behind)
  chmodSync(dir, 0o755);
  const server = await startEmbeddedPostgres({ dir: join(dir, 'pg'), ephemeral: true });
  return {
    url: server.url,
    stop: async () => {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

/** Migrates and seeds one template database; every test file clones it. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const server = await startPostgres();
  const admin = new pg.Client({ connectionString: server.url });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${TEMPLATE_DATABASE}`);
  await admin.query(`CREATE DATABASE ${TEMPLATE_DATABASE}`);
  await admin.end();

  const template = createDataSource(withDatabase(server.url, TEMPLATE_DATABASE), 2);
  await template.initialize();
  await migrate(template);
  await ensurePartitions(template, new Date('2024-01-01T00:00:00Z'), new Date('2029-01-01T00:00:00Z'));
  await seedBuiltInCatalog(template);
  await template.destroy();

  project.provide('postgresUrl', server.url);
  return async () => {
    await server.stop();
  };
}
