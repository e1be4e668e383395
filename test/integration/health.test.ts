import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createTestApp, createTestDatabase, type TestApp } from '../support/test-app';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => t.close());

describe('health', () => {
  it('is alive', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/health' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'ok' });
  });

  it('is ready when the database answers and migrations are applied', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/health/ready' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'ready', problems: [] });
  });

  it('is ready while every pooled connection is busy, since the database answers', async () => {
    // busy with slow requests, not away: out of rotation it would only pass its load on
    const busy = await createTestApp({ poolSize: 2 });
    const sleeping = [busy.db.query('SELECT pg_sleep(4)'), busy.db.query('SELECT pg_sleep(4)')];
    await new Promise((resolve) => setTimeout(resolve, 200));
    // answered by a connection of its own: the probe gives up at 3 s, a pooled one is free at 4
    const res = await busy.app.inject({ method: 'GET', url: '/health/ready' });
    expect(res.json()).toEqual({ status: 'ready', problems: [] });
    expect(res.statusCode).toBe(200);
    await Promise.all(sleeping);
    await busy.close();
  });

  it('is not ready once the database is gone', async () => {
    const other = await createTestApp();
    await other.db.destroy();
    const res = await other.app.inject({ method: 'GET', url: '/health/ready' });
    expect(res.statusCode).toBe(503);
    expect(res.json().status).toBe('not_ready');
    await other.app.close();
  });

  it('does not tell a caller how the database is reached when it is unreachable: a generic reason, the detail in the log', async () => {
    // the app reaches its database through a relay, which then goes away: the driver's error
    // names the address (ECONNREFUSED 127.0.0.1:<port>)
    const database = await createTestDatabase();
    const target = new URL(database.url);
    const sockets = new Set<Socket>();
    const relay = createServer((client) => {
      const upstream = connect(Number(target.port), target.hostname);
      for (const socket of [client, upstream]) {
        sockets.add(socket);
        socket.on('error', () => undefined);
        socket.on('close', () => sockets.delete(socket));
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((listening) => relay.listen(0, '127.0.0.1', listening));
    const relayPort = (relay.address() as AddressInfo).port;
    const viaRelay = new URL(database.url);
    viaRelay.hostname = '127.0.0.1';
    viaRelay.port = String(relayPort);
    const app = await createTestApp({ databaseUrl: viaRelay.toString() });
    try {
      const warnings: unknown[][] = [];
      const child = app.app.log.child.bind(app.app.log);
      vi.spyOn(app.app.log, 'child').mockImplementation((...args: Parameters<typeof child>) => {
        const logger = child(...args);
        vi.spyOn(logger, 'warn').mockImplementation((...warning: unknown[]) => void warnings.push(warning));
        return logger;
      });
      expect((await app.app.inject({ method: 'GET', url: '/health/ready' })).statusCode).toBe(200);

      await new Promise<void>((closed) => {
        relay.close(() => closed());
        for (const socket of sockets) socket.destroy();
      });
      // the first probe finds a pooled connection broken, the next one cannot open a new one
      for (let probe = 0; probe < 2; probe += 1) {
        const res = await app.app.inject({ method: 'GET', url: '/health/ready' });
        expect(res.statusCode, res.body).toBe(503);
        expect(res.headers['retry-after']).toBeDefined();
        expect(res.json(), res.body).toEqual({ status: 'not_ready', problems: ['database unreachable'] });
        for (const secret of [String(relayPort), '127.0.0.1', 'ECONNREFUSED', target.username]) {
          expect(res.body).not.toContain(secret);
        }
      }
      // the operator still learns why
      expect(JSON.stringify(warnings)).toContain(`127.0.0.1:${relayPort}`);
    } finally {
      vi.restoreAllMocks();
      await app.app.close();
      await app.db.destroy().catch(() => undefined);
      relay.close();
      await database.drop();
    }
  });
});
