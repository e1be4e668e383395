import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDataSource } from '../../src/infrastructure/persistence/data-source';
import { PgDatabaseHealth } from '../../src/infrastructure/persistence/pg-database-health';
import { createTestDatabase } from '../support/test-app';

/**
 * The service's pool holds every connection its database role may open (CONNECTION LIMIT, as
 * managed PostgreSQL plans and per-service roles set it), each busy with a slow request: the
 * database answers, the instance works, only a further connection is refused. Readiness must
 * not take such a busy instance out of rotation as 'database unreachable'.
 */
let database: Awaited<ReturnType<typeof createTestDatabase>>;
const role = `r_${randomBytes(4).toString('hex')}`;
let admin: pg.Client;

beforeAll(async () => {
  database = await createTestDatabase();
  admin = new pg.Client({ connectionString: database.url });
  await admin.connect();
  await admin.query(`CREATE ROLE ${role} LOGIN PASSWORD 'pw' CONNECTION LIMIT 2`);
  await admin.query(`GRANT pg_read_all_data TO ${role}`);
});
afterAll(async () => {
  await admin.end();
  await database.drop();
  const server = new pg.Client({ connectionString: database.url.replace(/\/[^/]*$/, '/postgres') });
  await server.connect();
  await server.query(`DROP ROLE IF EXISTS ${role}`);
  await server.end();
});

describe('readiness with every connection the role may open busy', () => {
  it('answers ready, not database unreachable', async () => {
    const url = new URL(database.url);
    url.username = role;
    url.password = 'pw';
    const db = createDataSource(url.toString(), 2);
    await db.initialize();
    const health = new PgDatabaseHealth(db);
    expect(await health.problem()).toBeNull(); // idle: ready
    const sleeping = [db.query('SELECT pg_sleep(4)'), db.query('SELECT pg_sleep(4)')];
    await new Promise((r) => setTimeout(r, 300));
    const problem = await health.problem();
    await Promise.all(sleeping);
    await db.destroy();
    expect(problem).toBeNull();
  }, 30_000);
});
