import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { LIMITS_TTL_MS, MeterProxiedCall, type CallEstimate } from '../../src/application/use-cases/meter-proxied-call';
import type { Principal } from '../../src/domain/principal';
import { planFor, quotaOf } from '../support/quotas';
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
        estimate: () => ({ promptTokens: 10, outputTokens: 0, outputStated: true }),
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
    const plan = (userId: string, estimate: () => CallEstimate) => ({
      userId,
      provider: 'openai',
      model: 'gpt-4o',
      estimate,
      proxyRequestId: `proxy-${randomUUID()}`,
    });
    const unlimited = vi.fn(() => ({ promptTokens: 10, outputTokens: 0, outputStated: true }));
    expect((await meter.admit(principal, plan('free-rider', unlimited))).reservationId).toBeNull();
    expect(unlimited).not.toHaveBeenCalled();
    await planFor(t, admin, ['counted'], { monthlyTokenLimit: 1_000, limitType: 'hard' });
    const limited = vi.fn(() => ({ promptTokens: 10, outputTokens: 0, outputStated: true }));
    expect((await meter.admit(principal, plan('counted', limited))).reservationId).toEqual(expect.any(String));
    expect(limited).toHaveBeenCalledTimes(1);
  });

  it('a user not seen for longer than the TTL is looked up before their call', async () => {
    expect(await admit('sparse')).toBeNull();
    await planFor(t, admin, ['sparse'], { monthlyTokenLimit: 1_000, limitType: 'hard' });
    clock.at += LIMITS_TTL_MS + 1;
    expect(await admit('sparse')).toEqual(expect.any(String));
  });

  it('holds what is left for a call that names no maximum output, where the default guess does not fit', async () => {
    await planFor(t, admin, ['open-ended', 'bounded', 'long-prompt'], { monthlyTokenLimit: 10_000, limitType: 'hard' });
    const call = (userId: string, estimate: CallEstimate) =>
      meter.admit(principal, {
        userId,
        provider: 'openai',
        model: 'gpt-4o',
        estimate: () => estimate,
        proxyRequestId: `proxy-${randomUUID()}`,
      });
    // 100 prompt tokens and the default 16,384 of output: over the 10,000 the user has
    const guessed = { promptTokens: 100, outputTokens: 16_384, outputStated: false };
    expect((await call('open-ended', guessed)).reservationId).toEqual(expect.any(String));
    expect((await quotaOf(t, admin, 'open-ended')).tokens).toMatchObject({ used: 0, reserved: 10_000, remaining: 0 });
    // while it holds everything, the user's next call does not fit
    await expect(call('open-ended', guessed)).rejects.toMatchObject({ code: 'quota_exceeded' });
    // a maximum the caller named is their own estimate: refused as it stands
    await expect(call('bounded', { ...guessed, outputStated: true })).rejects.toMatchObject({ code: 'quota_exceeded' });
    expect((await quotaOf(t, admin, 'bounded')).tokens.reserved).toBe(0);
    // and a prompt that does not fit is refused either way
    await expect(call('long-prompt', { ...guessed, promptTokens: 10_001 })).rejects.toMatchObject({
      code: 'quota_exceeded',
    });
  });
});
