import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSigner } from 'fast-jwt';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { startEmbeddedPostgres } from '../../src/infrastructure/embedded-postgres';
import { gatedChatCall, startFakeUpstream, type FakeUpstream } from '../support/fake-upstream';

/**
 * `npm start` on its embedded PostgreSQL, stopped with Ctrl-C at a terminal: the signal goes
 * to the whole foreground process group. A streamed call through the proxy is in flight; it
 * must end whole and its usage be stored before the database stops (the server used to sit in
 * the terminal's group and stop at once, before the service could store anything).
 */
let dir: string | undefined;
let service: ChildProcess | undefined;
let fake: FakeUpstream | undefined;

afterAll(async () => {
  if (service?.exitCode === null) process.kill(-service.pid!, 'SIGKILL');
  await fake?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

describe('Ctrl-C on npm start', () => {
  it('lets a streamed call end and stores its usage before the embedded database stops', async () => {
    dir = mkdtempSync(join(tmpdir(), 'tokentally-ctrl-c-'));
    chmodSync(dir, 0o755); // as root, PostgreSQL runs as the postgres user, which must enter it
    fake = await startFakeUpstream();
    const port = await freePort();
    const secret = randomBytes(32).toString('base64url');
    const { DATABASE_URL: _ignored, ...env } = process.env;
    service = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      detached: true, // a process group of its own, as a terminal's foreground job
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...env,
        DATA_DIR: join(dir, 'data'),
        PORT: String(port),
        JWT_SECRET: secret,
        LOG_LEVEL: 'warn',
        OPENAI_UPSTREAM_URL: `${fake.url}/v1`,
      },
    });
    let output = '';
    service.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    service.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => service!.once('exit', (code) => resolve(code)));
    for (let waited = 0; !output.includes('listening on'); waited += 100) {
      if (waited > 90_000 || service.exitCode !== null) throw new Error(`the service did not start:\n${output}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }

    const base = `http://127.0.0.1:${port}`;
    const token = createSigner({ key: secret, algorithm: 'HS256' })({ sub: 'root', role: 'admin', workspaceId: 'w' });
    const created = await fetch(`${base}/v1/admin/api-keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'terminal' }),
    });
    expect(created.status).toBe(201);
    const { key } = (await created.json()) as { key: string };

    const response = await fetch(`${base}/proxy/openai/v1/chat/completions`, {
      method: 'POST',
      ...gatedChatCall(key, 'ctrl-c'),
    });
    const reader = response.body!.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toContain('"role":"assistant"');

    process.kill(-service.pid!, 'SIGINT'); // what the terminal does
    await new Promise((resolve) => setTimeout(resolve, 300));
    fake.openGate();
    let rest = '';
    for (let part = await reader.read(); !part.done; part = await reader.read())
      rest += new TextDecoder().decode(part.value);
    expect(rest).toContain('data: [DONE]');
    expect(await exited, output).toBe(0);
    expect(output).toContain('stopped');

    // the database again, as the next start finds it
    const postgres = await startEmbeddedPostgres({ dir: join(dir, 'data', 'pg') });
    const client = new pg.Client({ connectionString: postgres.url });
    try {
      await client.connect();
      const { rows } = await client.query(`SELECT token_source, success FROM usage_records WHERE user_id = 'ctrl-c'`);
      expect(rows).toEqual([{ token_source: 'reported', success: true }]);
    } finally {
      await client.end();
      await postgres.stop();
    }
  }, 180_000);
});
