import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../support/test-app';

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
});
