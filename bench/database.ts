/** The PostgreSQL server the bench runs on, and the throw-away databases it creates there. */
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import pg from 'pg';
import { startEmbeddedPostgres } from '../src/infrastructure/embedded-postgres';
import { note } from './progress';

export interface BenchServer {
  /** connection URL of a maintenance database on the server */
  url: string;
  /** a temp folder for the bench's files, removed by `stop` */
  workDir: string;
  /** pid of the postmaster when the bench started it (to measure its CPU), else null */
  postmasterPid: number | null;
  stop(): Promise<void>;
}

export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

/** true when the promise settled in time */
async function withinTimeout(promise: Promise<unknown>, ms: number): Promise<boolean> {
  return Promise.race([
    promise.then(
      () => true,
      () => true,
    ),
    new Promise<boolean>((resolve) => setTimeout(() => resolve(false), ms).unref()),
  ]);
}

function isPostgres(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('postgres');
  } catch {
    return false;
  }
}

/** The given server, or an embedded PostgreSQL in a fresh folder under the OS temp folder. */
export async function startServer(databaseUrl: string | undefined): Promise<BenchServer> {
  const workDir = mkdtempSync(join(tmpdir(), 'tokentally-bench-'));
  // the embedded server runs as the postgres user when we are root: it must enter this folder
  chmodSync(workDir, 0o755);
  const removeWorkDir = (): void => rmSync(workDir, { recursive: true, force: true });
  if (databaseUrl) return { url: databaseUrl, workDir, postmasterPid: null, stop: async () => removeWorkDir() };

  note(`starting an embedded PostgreSQL in ${workDir}`);
  const server = await startEmbeddedPostgres({ dir: join(workDir, 'pg') });
  const postmasterPid = Number(readFileSync(join(server.dir, 'postmaster.pid'), 'utf8').split('\n')[0]) || null;
  return {
    url: server.url,
    workDir,
    postmasterPid,
    async stop() {
      // a Ctrl-C at the terminal may have stopped the server already; its stop() then never returns
      const stopped = await withinTimeout(server.stop(), 20_000);
      if (!stopped && postmasterPid !== null && isPostgres(postmasterPid)) process.kill(postmasterPid, 'SIGKILL');
      removeWorkDir();
      // the cluster lives elsewhere when the temp folder was unusable: remove that too
      if (!server.dir.startsWith(workDir)) rmSync(dirname(server.dir), { recursive: true, force: true });
    },
  };
}

export async function connect(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, options: '-c TimeZone=UTC' });
  await client.connect();
  client.on('error', () => undefined); // a dropped connection is reported by the query that used it
  return client;
}

/** Creates an empty database; returns its URL and a function that drops it. */
export async function createDatabase(
  serverUrl: string,
  name: string,
): Promise<{ url: string; drop: () => Promise<void> }> {
  const admin = await connect(serverUrl);
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  return {
    url: withDatabase(serverUrl, name),
    drop: async () => {
      const client = await connect(serverUrl);
      try {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}

export async function serverInfo(url: string): Promise<{ version: string; settings: Record<string, string> }> {
  const client = await connect(url);
  try {
    const version = ((await client.query('SHOW server_version')).rows[0] as { server_version: string }).server_version;
    const rows = (
      await client.query(
        `SELECT name, setting || coalesce(unit, '') AS value FROM pg_settings WHERE name = ANY($1) ORDER BY name`,
        [
          [
            'shared_buffers',
            'work_mem',
            'max_parallel_workers_per_gather',
            'jit',
            'synchronous_commit',
            'fsync',
            'max_wal_size',
          ],
        ],
      )
    ).rows as Array<{ name: string; value: string }>;
    return { version, settings: Object.fromEntries(rows.map((r) => [r.name, r.value])) };
  } finally {
    await client.end();
  }
}
