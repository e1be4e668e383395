import { FormatRegistry, type Static } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import type { BatchItem } from '../../../application/use-cases/ingest-usage';
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
  const withNul = Object.keys(record).filter((key) => containsNul((record as Record<string, unknown>)[key]));
  if (withNul.length > 0) {
    return {
      requestId,
      errors: withNul.map((key) => ({ path: `/${key}`, message: 'must not contain the NUL character (U+0000)' })),
    };
  }
  const { occurredAt, cost, ...rest } = record;
  return {
    draft: {
      ...rest,
      occurredAt: occurredAt === undefined ? undefined : new Date(occurredAt),
      cost: cost === undefined ? undefined : typeof cost === 'number' ? Decimal.fromNumber(cost).toString() : cost,
    },
  };
}

/** TypeBox reports a union failure once per branch; one message per field is enough. */
function firstPerPath(errors: Array<{ path: string; message: string }>): Array<{ path: string; message: string }> {
  const seen = new Set<string>();
  return errors.filter((error) => !seen.has(error.path) && seen.add(error.path));
}

/** PostgreSQL text and jsonb cannot hold U+0000: such a record must be rejected alone, not fail its batch. */
function containsNul(value: unknown): boolean {
  if (typeof value === 'string') return value.includes('\u0000');
  if (Array.isArray(value)) return value.some(containsNul);
  if (typeof value === 'object' && value !== null) {
    return Object.entries(value).some(([key, item]) => key.includes('\u0000') || containsNul(item));
  }
  return false;
}
