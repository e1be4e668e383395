import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { waitUntil } from '../support/outage-checks';

/**
 * Ctrl-C (or SIGTERM) while `npm start` is still starting: initdb runs, the embedded PostgreSQL
 * starts, the migrations run. The service used to die at once (Node's default for a signal
 * nobody handles yet), leaving its PostgreSQL, in a process group of its own, running on the
 * data folder without it.
 */
let dir: string | undefined;
let service: ChildProcess | undefined;

afterEach(() => {
  if (service?.exitCode === null && service.signalCode === null) process.kill(-service.pid!, 'SIGKILL');
  if (dir) {
    for (const { pid } of processesOn(dir)) process.kill(pid, 'SIGKILL'); // an orphan the service left
    rmSync(dir, { recursive: true, force: true });
  }
  dir = service = undefined;
});

/** Processes (not zombies) whose command line names `folder`: initdb and postgres name their data folder. */
function processesOn(folder: string): Array<{ pid: number; command: string }> {
  const found: Array<{ pid: number; command: string }> = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const command = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ');
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const state = stat.charAt(stat.lastIndexOf(')') + 2);
      if (state !== 'Z' && command.includes(folder)) found.push({ pid: Number(entry), command });
    } catch {
      // ended meanwhile
    }
  }
  return found;
}

/** `npm start`'s entry on a fresh data folder, in a process group of its own as a terminal's foreground job. */
function start(): { pgDir: string; output: () => string; exited: Promise<string> } {
  dir = mkdtempSync(join(tmpdir(), 'tokentally-start-signal-'));
  chmodSync(dir, 0o755); // as root, PostgreSQL runs as the postgres user, which must enter it
  const { DATABASE_URL: _ignored, ...env } = process.env;
  service = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...env,
      DATA_DIR: join(dir, 'data'),
      PORT: '0',
      JWT_SECRET: randomBytes(32).toString('base64url'),
      LOG_LEVEL: 'warn',
    },
  });
  let output = '';
  service.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  service.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<string>((resolve) =>
    service!.once('exit', (code, signal) => resolve(code === null ? `killed by ${signal}` : `exit ${code}`)),
  );
  return { pgDir: join(dir, 'data', 'pg'), output: () => output, exited };
}

/** The status line of postmaster.pid ('starting', 'ready', …), or null while there is none. */
function serverStatus(pgDir: string): string | null {
  try {
    return readFileSync(join(pgDir, 'postmaster.pid'), 'utf8').split('\n')[7]?.trim() ?? '';
  } catch {
    return null;
  }
}

async function expectStoppedWithin(ms: number, exited: Promise<string>, pgDir: string, output: () => string) {
  const late = new Promise<string>((resolve) => setTimeout(() => resolve(`still running after ${ms} ms`), ms));
  const outcome = await Promise.race([exited, late]);
  expect(outcome, output()).not.toMatch(/still running/);
  expect(output()).not.toContain('listening on');
  // nothing is left on the data folder: the next start finds it free
  expect(processesOn(pgDir), output()).toEqual([]);
  expect(existsSync(join(pgDir, 'postmaster.pid')), output()).toBe(false);
}

describe('a signal while npm start is still starting', () => {
  it('Ctrl-C while the migrations run stops the embedded PostgreSQL and exits', async () => {
    const { pgDir, output, exited } = start();
    await waitUntil(90_000, async () => serverStatus(pgDir) === 'ready' || service!.exitCode !== null, 20);
    expect(output(), 'the start got past the migrations before the signal').not.toContain('listening on');
    process.kill(-service!.pid!, 'SIGINT'); // what the terminal does: the whole foreground group
    await expectStoppedWithin(20_000, exited, pgDir, output);
  }, 120_000);

  it('SIGTERM to the service alone while PostgreSQL starts stops it and exits', async () => {
    const { pgDir, output, exited } = start();
    // initdb's own backends hold a postmaster.pid too: the server proper, once initdb is done
    const serverStarting = (): boolean =>
      serverStatus(pgDir) !== null && !processesOn(pgDir).some((p) => p.command.includes('initdb'));
    await waitUntil(90_000, async () => serverStarting() || service!.exitCode !== null, 20);
    process.kill(service!.pid!, 'SIGTERM');
    await expectStoppedWithin(20_000, exited, pgDir, output);
  }, 120_000);

  it('SIGTERM to the service alone during initdb lets initdb finish and starts no server', async () => {
    const { pgDir, output, exited } = start();
    await waitUntil(
      90_000,
      async () => processesOn(pgDir).some((p) => p.command.includes('initdb')) || service!.exitCode !== null,
      20,
    );
    process.kill(service!.pid!, 'SIGTERM');
    await expectStoppedWithin(20_000, exited, pgDir, output);
  }, 120_000);
});

describe('the terminal closing while npm start runs', () => {
  it('SIGHUP to the foreground group after listening stops the embedded PostgreSQL and exits', async () => {
    const { pgDir, output, exited } = start();
    await waitUntil(90_000, async () => output().includes('listening on') || service!.exitCode !== null, 50);
    expect(output()).toContain('listening on');
    process.kill(-service!.pid!, 'SIGHUP'); // what a closing terminal (or a dropped ssh session) sends
    const late = new Promise<string>((resolve) => setTimeout(() => resolve('still running after 20 s'), 20_000));
    expect(await Promise.race([exited, late]), output()).toBe('exit 0');
    expect(processesOn(pgDir), output()).toEqual([]);
    expect(existsSync(join(pgDir, 'postmaster.pid')), output()).toBe(false);
  }, 120_000);
});
