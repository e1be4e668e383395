import { FormatRegistry, Type, type Static } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import type { BatchItem } from '../../../application/use-cases/ingest-usage';
import { TOKEN_SOURCES, type TokenSource, type UsageRecordDraft } from '../../../domain/usage-record';
import { Decimal } from '../../../domain/decimal';
import { METADATA_MAX_BYTES, UsageRecordInput } from './usage-records.schemas';

type RecordInput = Static<typeof UsageRecordInput>;

const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/i;

/** The instant an ISO 8601 date-time with offset names, or null when it is not one. */
function parseDateTime(value: string): Date | null {
  if (!ISO_DATE_TIME.test(value)) return null;
  const at = new Date(value);
  return Number.isNaN(at.getTime()) ? null : at;
}

if (!FormatRegistry.Has('date-time')) FormatRegistry.Set('date-time', (value) => parseDateTime(value) !== null);

/** The documented schema: its errors are what a client is told. */
const checker = TypeCompiler.Compile(UsageRecordInput);

/**
 * The documented schema without the three checks that cost the most per record: unknown
 * fields (compiled as a list of names allocated per field), metadata's record type (an
 * entry pair per key) and the date-time format (parsed once more for the draft). `wellFormed`
 * makes those three itself. What it accepts, `checker` accepts; anything else is handed to
 * `checker`, so a client sees the same answer either way.
 */
const { occurredAt: _occurredAt, metadata: _metadata, ...plainFields } = UsageRecordInput.properties;
const plainChecker = TypeCompiler.Compile(Type.Object(plainFields));
const FIELDS = new Set(Object.keys(UsageRecordInput.properties));

/** The record's occurredAt (undefined when it has none) if the record is well-formed, else false. */
function wellFormed(value: unknown): Date | undefined | false {
  if (!plainChecker.Check(value)) return false;
  const record = value as Record<string, unknown>;
  for (const key in record) if (!FIELDS.has(key)) return false;
  const { metadata, occurredAt } = record;
  if (
    metadata !== undefined &&
    (typeof metadata !== 'object' ||
      metadata === null ||
      Array.isArray(metadata) ||
      metadata instanceof Date ||
      metadata instanceof Uint8Array)
  ) {
    return false;
  }
  if (occurredAt === undefined) return undefined;
  return (typeof occurredAt === 'string' && parseDateTime(occurredAt)) || false;
}

/** Checks one record's shape and bounds; a bad record becomes its list of field errors. */
export function checkRecord(value: unknown): BatchItem {
  const occurredAt = wellFormed(value);
  if (occurredAt !== false) return checkContent(value as RecordInput, occurredAt);
  const requestId =
    typeof value === 'object' && value !== null && typeof (value as { requestId?: unknown }).requestId === 'string'
      ? (value as { requestId: string }).requestId
      : undefined;
  if (!checker.Check(value)) {
    const errors = [...checker.Errors(value)].map((error) => ({ path: error.path || '/', message: error.message }));
    return { requestId, errors: firstPerPath(errors) };
  }
  const record = value as RecordInput;
  return checkContent(record, record.occurredAt === undefined ? undefined : new Date(record.occurredAt));
}

/** What the schema cannot say: metadata's size, a known tokenSource, and no NUL character anywhere. */
function checkContent(record: RecordInput, occurredAt: Date | undefined): BatchItem {
  if (record.tokenSource !== undefined && !(TOKEN_SOURCES as readonly string[]).includes(record.tokenSource)) {
    return {
      requestId: record.requestId,
      errors: [{ path: '/tokenSource', message: `must be one of ${TOKEN_SOURCES.join(', ')}` }],
    };
  }
  const metadataJson = record.metadata === undefined ? undefined : JSON.stringify(record.metadata);
  if (metadataJson !== undefined && Buffer.byteLength(metadataJson) > METADATA_MAX_BYTES) {
    return {
      requestId: record.requestId,
      errors: [{ path: '/metadata', message: `metadata must be at most ${METADATA_MAX_BYTES} bytes of JSON` }],
    };
  }
  if (mayHoldNul(record, metadataJson)) {
    const withNul = fieldsWithNul(record);
    if (withNul.length > 0) {
      return {
        requestId: record.requestId,
        errors: withNul.map((key) => ({ path: `/${key}`, message: 'must not contain the NUL character (U+0000)' })),
      };
    }
  }
  return toDraft(record, occurredAt);
}

/** The checked record as a draft; built field by field, as object rest and spread are slow per record. */
function toDraft(record: RecordInput, occurredAt: Date | undefined): UsageRecordDraft {
  const { cost } = record;
  return {
    requestId: record.requestId,
    occurredAt,
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
    tokenSource: record.tokenSource as TokenSource | undefined,
    metadata: record.metadata,
  };
}

/** TypeBox reports a union failure once per branch; one message per field is enough. */
function firstPerPath(errors: Array<{ path: string; message: string }>): Array<{ path: string; message: string }> {
  const seen = new Set<string>();
  return errors.filter((error) => !seen.has(error.path) && seen.add(error.path));
}

/**
 * Whether a NUL character may be in the record: in one of its free-text fields, or in its
 * metadata, whose JSON writes U+0000 as \\u0000 (an escaped backslash before "u0000" also
 * matches; fieldsWithNul then looks closer). occurredAt and cost match patterns without it.
 */
function mayHoldNul(record: RecordInput, metadataJson: string | undefined): boolean {
  return (
    record.requestId.includes('\u0000') ||
    record.provider.includes('\u0000') ||
    record.model.includes('\u0000') ||
    (record.userId?.includes('\u0000') ?? false) ||
    (record.operation?.includes('\u0000') ?? false) ||
    (record.error?.includes('\u0000') ?? false) ||
    (metadataJson?.includes('\\u0000') ?? false)
  );
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
