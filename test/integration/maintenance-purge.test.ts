import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { maintainStorage, startStorageMaintenance } from '../../src/infrastructure/persistence/maintenance';
import { waitUntil } from '../support/outage-checks';
import { planFor, quotaOf, reserve } from '../support/quotas';
import { bearer, createTestApp, type TestApp } from '../support/test-app';

/**
 * Storage maintenance forgets what only grows: reservations a day after they could last no
 * longer, and webhook events after 30 days unless a delivery of theirs is still pending.
 */
let t: TestApp;
let admin: Record<string, string>;

beforeAll(async () => {
  t = await createTestApp({ deploymentMode: 'self-hosted' });
  admin = bearer(t.token('root', { role: 'admin' }));
});
afterAll(async () => t.close());

const ids = async (table: string, column = 'id'): Promise<string[]> =>
  ((await t.db.query(`SELECT ${column}::text AS id FROM ${table} ORDER BY 1`)) as Array<{ id: string }>).map(
    (r) => r.id,
  );

describe('storage maintenance', () => {
  it('forgets reservations a day after the longest one could last, and keeps the rest', async () => {
    await planFor(t, admin, ['ann'], { monthlyTokenLimit: 1_000 });
    for (const requestId of ['old-a', 'old-b', 'new-c']) {
      const granted = await reserve(t, admin, { userId: 'ann', requestId, estimatedTokens: 100 });
      expect(granted.statusCode, granted.body).toBe(201);
    }
    // made 25 h and 24 h ago: the first is past a day beyond the longest TTL (1 h), the second not
    await t.db.query(`UPDATE quota_reservations SET created_at = now() - interval '25 hours 1 minute',
                        expires_at = now() - interval '24 hours 1 minute' WHERE request_id = 'old-a'`);
    await t.db.query(`UPDATE quota_reservations SET created_at = now() - interval '24 hours',
                        expires_at = now() - interval '23 hours' WHERE request_id = 'old-b'`);
    const changes = await maintainStorage(t.db, new Date(), 90);
    expect(changes.forgotten.reservations).toBe(1);
    expect(await ids('quota_reservations', 'request_id')).toEqual(['new-c', 'old-b']);
    // the expired ones held nothing before and nothing now; the live one still holds
    expect((await quotaOf(t, admin, 'ann')).tokens.reserved).toBe(100);
  });

  it('forgets webhook events after 30 days with their deliveries, unless one is still pending', async () => {
    const hook = await t.app.inject({
      method: 'POST',
      url: '/v1/admin/webhooks',
      headers: admin,
      payload: { url: 'http://127.0.0.1:9/hook', events: ['quota.threshold_crossed'] },
    });
    expect(hook.statusCode, hook.body).toBe(201);
    const webhookId = hook.json().webhook.id as string;
    for (let i = 0; i < 3; i += 1) {
      const sent = await t.app.inject({
        method: 'POST',
        url: `/v1/admin/webhooks/${webhookId}/test`,
        headers: admin,
        payload: {},
      });
      expect(sent.statusCode, sent.body).toBe(202);
    }
    const events = await ids('webhook_events');
    expect(events).toHaveLength(3);
    const [delivered, pending, recent] = events as [string, string, string];
    await t.db.query(`UPDATE webhook_events SET created_at = now() - interval '31 days' WHERE id = ANY($1)`, [
      [delivered, pending],
    ]);
    await t.db.query(
      `UPDATE webhook_deliveries SET status = CASE WHEN event_id = $1 THEN 'pending' ELSE 'delivered' END`,
      [pending],
    );
    const changes = await maintainStorage(t.db, new Date(), 90);
    expect(changes.forgotten.webhookEvents).toBe(1);
    expect(await ids('webhook_events')).toEqual([pending, recent].sort());
    expect(await ids('webhook_deliveries', 'event_id')).toEqual([pending, recent].sort());
  });

  it('stops a long purge between two batches when the service stops; the next run finishes it', async () => {
    // 300,000 reservations ended three days ago: 30 statements of 10,000
    await t.db.query(`INSERT INTO quota_reservations
        (workspace_id, id, request_id, user_id, period_start, estimated_tokens, status, created_at, expires_at, ended_at)
      SELECT 'purge', gen_random_uuid(), 'p' || i, 'u' || (i % 100), date_trunc('month', now()), 1, 'released',
             now() - interval '3 days', now() - interval '3 days', now() - interval '3 days'
      FROM generate_series(1, 300000) i`);
    const left = async (): Promise<number> =>
      Number(
        (
          (await t.db.query(`SELECT count(*) AS n FROM quota_reservations WHERE workspace_id = 'purge'`)) as Array<{
            n: string;
          }>
        )[0]!.n,
      );
    const errors: unknown[] = [];
    const maintenance = startStorageMaintenance(t.db, 90, 3_600_000, (error) => errors.push(error));
    await waitUntil(60_000, async () => (await left()) < 300_000, 10);
    await maintenance.stop();
    const leftAfterStop = await left();
    expect(leftAfterStop).toBeGreaterThan(0);
    expect(errors).toEqual([]);

    const changes = await maintainStorage(t.db, new Date(), 90);
    expect(changes.forgotten.reservations).toBe(leftAfterStop);
    expect(await left()).toBe(0);
  }, 120_000);
});
