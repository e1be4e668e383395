/** The real service as a child process, started as `npm start` starts it (the compiled dist/server/main.mjs), so /proc/<pid> is the service itself. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { createSigner } from 'fast-jwt';
import { buildServer } from '../scripts/build-server.mjs';
import { HEAVY_USER, WORKSPACE } from './dataset';

export const REPO_ROOT = join(import.meta.dirname, '..');

export interface RunningService {
  pid: number;
  baseUrl: string;
  /** admin JWT of HEAVY_USER in the bench workspace */
  token: string;
  /** last lines the service printed */
  output(): string;
  /** false once the process has exited */
  running(): boolean;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

export interface ServiceOptions {
  maxBatchRecords: number;
  rawRetentionDays: number;
  /** write a V8 CPU profile of the service into this folder when it stops */
  cpuProfileDir?: string;
  /** more environment for the service (e.g. the proxy's upstream URLs) */
  env?: Record<string, string>;
  /** a build of the service to run instead of the current sources (an A/B comparison's other side) */
  entry?: string;
}

export async function startService(databaseUrl: string, options: ServiceOptions): Promise<RunningService> {
  const port = await freePort();
  const secret = randomBytes(32).toString('base64url');
  const lines: string[] = [];
  const keep = (chunk: Buffer): void => {
    lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    if (lines.length > 40) lines.splice(0, lines.length - 40);
  };
  // its own process group: a Ctrl-C at the terminal reaches the bench, which stops it in order
  const profile = options.cpuProfileDir ? ['--cpu-prof', `--cpu-prof-dir=${options.cpuProfileDir}`] : [];
  const entry = options.entry ?? (await buildServer()); // the current sources, as `npm start` builds them
  const child: ChildProcess = spawn(process.execPath, [...profile, '--enable-source-maps', entry], {
    cwd: REPO_ROOT,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      DATABASE_URL: databaseUrl,
      JWT_SECRET: secret,
      JWT_PUBLIC_KEY: '',
      LOG_LEVEL: 'warn',
      RAW_RETENTION_DAYS: String(options.rawRetentionDays),
      MAX_BATCH_RECORDS: String(Math.max(1000, options.maxBatchRecords)),
      DEPLOYMENT_MODE: 'self-hosted',
      NODE_ENV: 'production',
      ...options.env,
    },
  });
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let running = true;
  void exited.then(() => (running = false));

  const stop = async (): Promise<void> => {
    if (!running) return;
    child.kill('SIGTERM');
    const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 15_000).unref());
    if ((await Promise.race([exited, timeout])) === 'timeout') {
      child.kill('SIGKILL');
      await exited;
    }
  };

  const baseUrl = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 180_000;
  for (;;) {
    if (!running) throw new Error(`the service exited during start:\n${lines.join('\n')}`);
    const ready = await fetch(`${baseUrl}/health/ready`).then(
      (response) => response.ok,
      () => false,
    );
    if (ready) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`the service did not become ready within 180 s:\n${lines.join('\n')}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  const sign = createSigner({ key: secret, algorithm: 'HS256', expiresIn: 24 * 3_600_000 });
  return {
    pid: child.pid!,
    baseUrl,
    token: sign({ sub: HEAVY_USER, role: 'admin', workspaceId: WORKSPACE }),
    output: () => lines.join('\n'),
    running: () => running,
    stop,
  };
}

/** VmRSS and VmHWM (peak) of a process in MB. */
export function memoryOf(pid: number): { rssMB: number; hwmMB: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rssMB: kb('VmRSS') / 1024, hwmMB: kb('VmHWM') / 1024 };
}

const CLOCK_TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout?.trim()) || 100;

/** CPU seconds a process used (user + system; with `children`, also its waited-for children). */
export function cpuSecondsOf(pid: number, children = false): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat
      .slice(stat.lastIndexOf(')') + 2)
      .split(' ')
      .map(Number);
    // fields[0] is field 3 (state): utime = 14, stime = 15, cutime = 16, cstime = 17
    const own = fields[11]! + fields[12]!;
    return (children ? own + fields[13]! + fields[14]! : own) / CLOCK_TICKS;
  } catch {
    return 0;
  }
}

/** CPU seconds of a PostgreSQL cluster: the postmaster, its finished backends and its live ones. */
export function clusterCpuSeconds(postmasterPid: number): number {
  let total = cpuSecondsOf(postmasterPid, true);
  const children = spawnSync('pgrep', ['-P', String(postmasterPid)], { encoding: 'utf8' }).stdout ?? '';
  for (const pid of children.split('\n').filter(Boolean)) total += cpuSecondsOf(Number(pid));
  return total;
}
