import { expect } from 'vitest';
import type { TestApp } from './test-app';

let planSequence = 0;

/**
 * A new plan with `fields` (a name of its own unless `fields` gives one), and `users` put on
 * it through the admin API; returns the plan's id.
 */
export async function planFor(
  t: Pick<TestApp, 'app'>,
  headers: Record<string, string>,
  users: readonly string[],
  fields: object,
): Promise<string> {
  planSequence += 1;
  const res = await t.app.inject({
    method: 'POST',
    url: '/v1/admin/plans',
    headers,
    payload: { name: `plan-${planSequence}`, ...fields },
  });
  expect(res.statusCode, res.body).toBe(201);
  const planId = res.json().id as string;
  for (const userId of users) {
    const put = await t.app.inject({
      method: 'PUT',
      url: `/v1/admin/users/${encodeURIComponent(userId)}/plan`,
      headers,
      payload: { planId },
    });
    expect(put.statusCode, put.body).toBe(200);
  }
  return planId;
}

/** POST /v1/quota/reservations, answered as it is. */
export function reserve(t: Pick<TestApp, 'app'>, headers: Record<string, string>, body: object) {
  return t.app.inject({ method: 'POST', url: '/v1/quota/reservations', headers, payload: body });
}

/** GET /v1/admin/users/{userId}/quota, asserted 200. */
export async function quotaOf(t: Pick<TestApp, 'app'>, headers: Record<string, string>, userId: string) {
  const res = await t.app.inject({
    method: 'GET',
    url: `/v1/admin/users/${encodeURIComponent(userId)}/quota`,
    headers,
  });
  expect(res.statusCode, res.body).toBe(200);
  return res.json();
}

/** PUT /v1/admin/workspace with the zone of the quota periods, asserted 200. */
export async function setWorkspaceZone(t: Pick<TestApp, 'app'>, headers: Record<string, string>, timeZone: string) {
  const res = await t.app.inject({ method: 'PUT', url: '/v1/admin/workspace', headers, payload: { timeZone } });
  expect(res.statusCode, res.body).toBe(200);
}
