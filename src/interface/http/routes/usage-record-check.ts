import { FormatRegistry, type Static } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import type { BatchItem } from '../../../application/use-cases/ingest-usage';
import type { UsageRecordDraft } from '../../../domain/usage-record';
import { Decimal } from '../../../domain/decimal';
import { METADATA_MAX_BYTES, UsageRecordInput } from './usage-records.schemas';

const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/i;
if (!FormatRegistry.Has('date-time')) {
  FormatRegistry.Set('date-time', (value) => ISO_DATE_TIME.test(value) && !Number.isNaN(Date.parse(value)));
}

const checker = TypeCompiler.Compile(UsageRecordInput);

/** Checks one record's shape and bounds; a bad record becomes its list of field errors. */
export function checkRecord(value: unknown): BatchItem {
  const requestId =
    typeof value === 'object' && value !== null && typeof (value as { requestId?: unknown }).requestId === 'string'
      ? (value as { requestId: string }).requestId
      : undefined;
  if (!checker.Check(value)) {
    const errors = [...checker.Errors(value)].map((error) => ({ path: error.path || '/', message: error.message }));
    return { requestId, errors: firstPerPath(errors) };
  }
  const record = value as Static<typeof UsageRecordInput>;
  if (record.metadata && Buffer.byteLength(JSON.stringify(record.metadata)) > METADATA_MAX_BYTES) {
    return {
      requestId,
      errors: [{ path: '/metadata', message: `metadata must be at most ${METADATA_MAX_BYTES} bytes of JSON` }],
    };
  }
  const withNul = fieldsWithNul(record);
  if (withNul.length > 0) {
    return {
      requestId,
      errors: withNul.map((key) => ({ path: `/${key}`, message: 'must not contain the NUL character (U+0000)' })),
    };
  }
  return { draft: toDraft(record) };
}

/** The checked record as a draft; built field by field, as object rest and spread are slow per record. */
function toDraft(record: Static<typeof UsageRecordInput>): UsageRecordDraft {
  const { occurredAt, cost } = record;
  return {
    requestId: record.requestId,
    occurredAt: occurredAt === undefined ? undefined : new Date(occurredAt),
    userId: record.userId,
    provider: record.provider,
    model: record.model,
    operation: record.operation,
    inputTokens: record.inputTokens,
    outputTokens: record.outputTokens,
    cachedInputTokens: record.cachedInputTokens,
    cacheWriteTokens: record.cacheWriteTokens,
    reasoningTokens: record.reasoningTokens,
    totalTokens: record.totalTokens,
    durationMs: record.durationMs,
    success: record.success,
    error: record.error,
    cost: cost === undefined ? undefined : typeof cost === 'number' ? Decimal.fromNumber(cost).toString() : cost,
    metadata: record.metadata,
  };
}

/** TypeBox reports a union failure once per branch; one message per field is enough. */
function firstPerPath(errors: Array<{ path: string; message: string }>): Array<{ path: string; message: string }> {
  const seen = new Set<string>();
  return errors.filter((error) => !seen.has(error.path) && seen.add(error.path));
}

/** PostgreSQL text and jsonb cannot hold U+0000: such a record must be rejected alone, not fail its batch. */
function fieldsWithNul(record: Record<string, unknown>): string[] {
  const found: string[] = [];
  for (const key of Object.keys(record)) if (containsNul(record[key])) found.push(key);
  return found;
}

function containsNul(value: unknown): boolean {
  if (typeof value === 'string') return value.includes('\u0000');
  if (Array.isArray(value)) return value.some(containsNul);
  if (typeof value === 'object' && value !== null) {
    for (const key of Object.keys(value)) {
      if (key.includes('\u0000') || containsNul((value as Record<string, unknown>)[key])) return true;
    }
  }
  return false;
}
