import { describe, expect, it } from 'vitest';
import { createUsageRecord } from '../../src/domain/usage-record';

const context = {
  workspaceId: 'w',
  userId: 'alice',
  receivedAt: new Date('2026-11-20T12:00:00Z'),
  oldestAccepted: new Date('2026-01-01T00:00:00Z'),
};

function stored(provider: string, model: string, operation?: string) {
  const outcome = createUsageRecord(
    { requestId: 'r', provider, model, operation, inputTokens: 1, outputTokens: 1 },
    context,
  );
  if (!outcome.ok) throw new Error('rejected');
  return [outcome.record.provider, outcome.record.model, outcome.record.operation];
}

describe('createUsageRecord', () => {
  it('stores provider, model and operation trimmed and in lower case', () => {
    expect(stored('openai', 'gpt-4o', 'chat')).toEqual(['openai', 'gpt-4o', 'chat']);
    expect(stored(' OpenAI', 'GPT-4o-2024-08-06 ', '\tChat\n')).toEqual(['openai', 'gpt-4o-2024-08-06', 'chat']);
    expect(stored('MISTRAL', 'Ärger-Modell', 'ÉMBED')).toEqual(['mistral', 'ärger-modell', 'émbed']);
    expect(stored('a\u00a0', '\ufeffm', 'x\u2003')).toEqual(['a', 'm', 'x']);
    expect(stored('p', 'm')).toEqual(['p', 'm', null]);
  });
});
