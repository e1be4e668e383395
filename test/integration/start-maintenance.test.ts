import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningService } from '../../src/composition-root';
import { partitionName } from '../../src/infrastructure/persistence/partitions';
import { waitUntil } from '../support/outage-checks';
import { usageRecord } from '../support/records';
import { bearer, createTestDatabase, signTestToken, startTestService } from '../support/test-app';

/**
 * A start does not wait for storage maintenance: a month past retention is detached only once
 * every query that may read it has ended, and a long report on another instance must not keep
 * a restarted instance from serving. The months ingest may write to exist before the first
 * request all the same.
 */

const RETENTION_DAYS = 90;
const EXPIRED_MONTH = new Date(Date.UTC(2020, 0, 1));

let database: { url: string; drop: () => Promise<void> };
let reader: pg.Client | undefined;
let service: RunningService | undefined;

beforeAll(async () => {
  database = await createTestDatabase();
});

afterAll(async () => {
  await reader?.end();
  await service?.stop();
  await database?.drop();
});

const partitionExists = async (db: pg.Client, name: string): Promise<boolean> =>
  ((await db.query('SELECT to_regclass($1) IS NOT NULL AS present', [name])).rows[0] as { present: boolean }).present;

describe('the service’s start', () => {
  it('serves while a long report keeps an expired month from being dropped, and drops it after', async () => {
    const expired = partitionName(EXPIRED_MONTH);
    const current = partitionName(new Date());
    const setup = new pg.Client({ connectionString: database.url });
    await setup.connect();
    try {
      await setup.query(
        `CREATE TABLE IF NOT EXISTS ${expired} PARTITION OF usage_records
         FOR VALUES FROM ('2020-01-01T00:00:00Z') TO ('2020-02-01T00:00:00Z')`,
      );
      // as if the database were new this month: ingest needs the month created at start
      await setup.query(`DROP TABLE IF EXISTS ${current}`);
    } finally {
      await setup.end();
    }

    // another instance's long report over the raw records, still running
    reader = new pg.Client({ connectionString: database.url });
    await reader.connect();
    await reader.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
    await reader.query('SELECT count(*) FROM usage_records');

    const started = startTestService(database.url, { settings: { rawRetentionDays: RETENTION_DAYS } });
    const outcome = await Promise.race([
      started.then((running) => {
        service = running;
        return 'started';
      }),
      new Promise<string>((done) => setTimeout(() => done('still starting after 15 s'), 15_000)),
    ]);
    expect(outcome).toBe('started');

    const admin = bearer(signTestToken({ sub: 'ops', role: 'admin', workspaceId: 'default' }));
    const record = usageRecord({ requestId: 'now-1', occurredAt: new Date().toISOString() });
    const res = await service!.app.inject({
      method: 'POST',
      url: '/v1/usage/records',
      headers: admin,
      payload: { records: [record] },
    });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toEqual({ accepted: 1, duplicates: 0, rejected: [] });
    // the report still holds the month: maintenance waits for it in the background
    expect(await partitionExists(reader, expired)).toBe(true);

    await reader.query('COMMIT');
    await waitUntil(15_000, async () => !(await partitionExists(reader!, expired)));
  }, 60_000);

  it('stops within seconds while a long report holds up a detach, and a later start finishes it', async () => {
    const own = await createTestDatabase();
    const setup = new pg.Client({ connectionString: own.url });
    const report = new pg.Client({ connectionString: own.url });
    let running: RunningService | undefined;
    try {
      await setup.connect();
      await report.connect();
      const expired = partitionName(EXPIRED_MONTH);
      await setup.query(
        `CREATE TABLE IF NOT EXISTS ${expired} PARTITION OF usage_records
         FOR VALUES FROM ('2020-01-01T00:00:00Z') TO ('2020-02-01T00:00:00Z')`,
      );
      await report.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
      await report.query('SELECT count(*) FROM usage_records');

      const settings = { settings: { rawRetentionDays: RETENTION_DAYS } };
      running = await startTestService(own.url, settings);
      // the background maintenance has begun to detach the month and waits for the report
      await waitUntil(15_000, async () => {
        const { rowCount } = await setup.query(
          `SELECT 1 FROM pg_stat_activity WHERE query LIKE 'ALTER TABLE usage_records DETACH PARTITION%'`,
        );
        return (rowCount ?? 0) > 0;
      });
      const began = performance.now();
      const stopped = await Promise.race([
        running.stop().then(() => 'stopped'),
        new Promise<string>((done) => setTimeout(() => done('still stopping after 10 s'), 10_000)),
      ]);
      expect(stopped).toBe('stopped');
      running = undefined;
      expect(performance.now() - began).toBeLessThan(5_000);
      expect(await partitionExists(setup, expired)).toBe(true);

      await report.query('COMMIT');
      running = await startTestService(own.url, settings);
      await waitUntil(15_000, async () => !(await partitionExists(setup, expired)));
    } finally {
      await running?.stop();
      await report.end();
      await setup.end();
      await own.drop();
    }
  }, 60_000);
});
