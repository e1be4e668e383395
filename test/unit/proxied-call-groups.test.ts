import 'reflect-metadata';
import { describe, expect, it } from 'vitest';
import type { PlanStore } from '../../src/application/ports/plan-store.port';
import type { BatchItem, IngestResult, IngestUsage } from '../../src/application/use-cases/ingest-usage';
import {
  MeterProxiedCall,
  type AdmittedCall,
  type ProxiedCallOutcome,
} from '../../src/application/use-cases/meter-proxied-call';
import type { ReserveQuota } from '../../src/application/use-cases/reserve-quota';
import { DatabaseUnavailableError } from '../../src/domain/errors';
import type { Principal } from '../../src/domain/principal';

const keyOf = (keyId: string): Principal => ({ kind: 'api-key', workspaceId: 'ws', keyId });

const call = (userId: string): AdmittedCall => ({
  plan: {
    userId,
    provider: 'openai',
    model: 'gpt-4o',
    estimate: () => ({ promptTokens: 10, outputTokens: 0, outputStated: true }),
    proxyRequestId: `proxy-${userId}`,
  },
  reservationId: null,
  startedAt: new Date('2026-12-01T10:00:00Z'),
});

const outcome = (responseId: string): ProxiedCallOutcome => ({
  responseId,
  operation: 'chat',
  inputTokens: 10,
  outputTokens: 5,
  cachedInputTokens: 0,
  cacheWriteTokens: 0,
  cacheWrite1hTokens: 0,
  reasoningTokens: 0,
  tokenSource: 'reported',
  durationMs: 12,
  success: true,
});

describe('records of proxied calls, several callers at once', () => {
  it('stores one caller’s records while another’s wait out the database’s retries', async () => {
    const events: string[] = [];
    let failuresLeft = 1;
    const ingest = {
      async execute(principal: Principal, items: ReadonlyArray<BatchItem>): Promise<IngestResult> {
        const key = principal.kind === 'api-key' ? principal.keyId : '?';
        events.push(`store ${key}`);
        if (key === 'slow' && failuresLeft-- > 0) throw new DatabaseUnavailableError();
        return { accepted: items.length, duplicates: 0, rejected: [] };
      },
    } as unknown as IngestUsage;
    const meter = new MeterProxiedCall(
      ingest,
      { releaseAll: async () => undefined } as unknown as ReserveQuota,
      { now: () => new Date() },
      {} as PlanStore,
    );

    const slow = meter.record(keyOf('slow'), call('u1'), outcome('resp-1')).then((stored) => {
      events.push('slow recorded');
      return stored;
    });
    const quick = meter.record(keyOf('quick'), call('u2'), outcome('resp-2')).then((stored) => {
      events.push('quick recorded');
      return stored;
    });

    await expect(quick).resolves.toBe(true);
    // the slow caller's batch failed once and waits its first pause (250 ms) before trying again
    expect(events).toEqual(['store slow', 'store quick', 'quick recorded']);
    await expect(slow).resolves.toBe(true);
    expect(events).toEqual(['store slow', 'store quick', 'quick recorded', 'store slow', 'slow recorded']);
  });
});
