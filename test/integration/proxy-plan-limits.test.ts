import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { LIMITS_TTL_MS, MeterProxiedCall } from '../../src/application/use-cases/meter-proxied-call';
import type { Principal } from '../../src/domain/principal';
import { planFor } from '../support/quotas';
import { bearer, createTestApp, type TestApp } from '../support/test-app';

/**
 * Whether the proxy reserves before a call follows the user's plan as looked up at most
 * LIMITS_TTL_MS ago: a busy user's limits are looked up again beside their calls, a user not
 * seen for longer is looked up before the call.
 */
describe('the proxy’s view of a user’s plan', () => {
  const clock = { at: Date.parse('2026-12-06T10:00:00Z'), now: () => new Date(clock.at) };
  const principal: Principal = { kind: 'api-key', workspaceId: 'default', keyId: 'proxy-test' };
  let t: TestApp;
  let admin: Record<string, string>;
  let meter: MeterProxiedCall;
  const admit = async (userId: string) =>
    (
      await meter.admit(principal, {
        userId,
        provider: 'openai',
        model: 'gpt-4o',
        estimateTokens: () => 10,
        proxyRequestId: `proxy-${randomUUID()}`,
      })
    ).reservationId;

  beforeAll(async () => {
    t = await createTestApp({ clock });
    admin = bearer(t.token('root', { role: 'admin' }));
    await planFor(t, admin, [], { monthlyTokenLimit: null, isDefault: true });
    meter = t.container.resolve(MeterProxiedCall);
  });
  afterAll(async () => t.close());

  it('a busy user is held to a new plan within the TTL, from a lookup made beside their calls', async () => {
    expect(await admit('busy')).toBeNull();
    await planFor(t, admin, ['busy'], { monthlyTokenLimit: 1_000, limitType: 'hard' });
    clock.at += LIMITS_TTL_MS / 5;
    // the lookup of a moment ago stands
    expect(await admit('busy')).toBeNull();
    clock.at += LIMITS_TTL_MS / 2;
    // past half its life: this call still goes by it, and starts a new lookup
    expect(await admit('busy')).toBeNull();
    await vi.waitFor(async () => expect(await admit('busy')).toEqual(expect.any(String)), { timeout: 5_000 });
  });

  it('counts the prompt only when a reservation is made (a long prompt takes milliseconds)', async () => {
    const plan = (userId: string, estimateTokens: () => number) => ({
      userId,
      provider: 'openai',
      model: 'gpt-4o',
      estimateTokens,
      proxyRequestId: `proxy-${randomUUID()}`,
    });
    const unlimited = vi.fn(() => 10);
    expect((await meter.admit(principal, plan('free-rider', unlimited))).reservationId).toBeNull();
    expect(unlimited).not.toHaveBeenCalled();
    await planFor(t, admin, ['counted'], { monthlyTokenLimit: 1_000, limitType: 'hard' });
    const limited = vi.fn(() => 10);
    expect((await meter.admit(principal, plan('counted', limited))).reservationId).toEqual(expect.any(String));
    expect(limited).toHaveBeenCalledTimes(1);
  });

  it('a user not seen for longer than the TTL is looked up before their call', async () => {
    expect(await admit('sparse')).toBeNull();
    await planFor(t, admin, ['sparse'], { monthlyTokenLimit: 1_000, limitType: 'hard' });
    clock.at += LIMITS_TTL_MS + 1;
    expect(await admit('sparse')).toEqual(expect.any(String));
  });
});
