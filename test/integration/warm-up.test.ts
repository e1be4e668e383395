import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UsageQueries } from '../../src/application/ports/usage-queries.port';
import { TOKENS } from '../../src/application/ports/tokens';
import { createContainer } from '../../src/composition-root';
import { warmUpConnections } from '../../src/infrastructure/persistence/warm-up';
import { createTestApp, type TestApp } from '../support/test-app';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => t.close());

describe('warming the connections at start', () => {
  it('opens the pool’s connections, each having run the Usage tab statements, and keeps them', async () => {
    const settings = { deploymentMode: 'self-hosted' as const, maxBatchRecords: 1000, rawRetentionDays: 90 };
    const queries = createContainer(t.db, settings).resolve<UsageQueries>(TOKENS.UsageQueries);
    await warmUpConnections(queries, 5, new Date('2026-06-01T00:00:00Z'));
    const open = async () =>
      (
        (await t.db.query(
          `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND backend_type = 'client backend'`,
        )) as Array<{ n: number }>
      )[0]!.n;
    expect(await open()).toBe(5);
    // still open after the pool's former ten-second idle timeout would have closed them
    await new Promise((resolve) => setTimeout(resolve, 11_000));
    expect(await open()).toBe(5);
  }, 30_000);
});
