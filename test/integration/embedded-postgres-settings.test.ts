import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedPostgres, type RunningPostgres } from '../../src/infrastructure/embedded-postgres';

// the server `npm start` runs: durable (not the tests' ephemeral one), with its own settings
describe('the embedded PostgreSQL of npm start', () => {
  let dir: string;
  let server: RunningPostgres;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tokentally-embedded-'));
    chmodSync(dir, 0o755); // as root, PostgreSQL runs as the postgres user, which must enter it
    server = await startEmbeddedPostgres({ dir: join(dir, 'pg') });
  }, 120_000);

  afterAll(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps its data durably and lets WAL grow to 4GB before a checkpoint is forced', async () => {
    const client = new pg.Client({ connectionString: server.url });
    await client.connect();
    try {
      const setting = async (name: string): Promise<string> =>
        ((await client.query(`SELECT current_setting($1) AS v`, [name])).rows[0] as { v: string }).v;
      expect(await setting('max_wal_size')).toBe('4GB');
      expect(await setting('fsync')).toBe('on');
      expect(await setting('synchronous_commit')).toBe('on');
      expect(await setting('full_page_writes')).toBe('on');
    } finally {
      await client.end();
    }
  });
});
