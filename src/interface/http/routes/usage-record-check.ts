import { FormatRegistry, Type, type Static } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import type { BatchItem } from '../../../application/use-cases/ingest-usage';
import { TOKEN_SOURCES, type TokenSource, type UsageRecordDraft } from '../../../domain/usage-record';
import { Decimal } from '../../../domain/decimal';
import { missingIdentity, recordTokens, type RecordTokens } from './usage-record-tokens';
import { METADATA_MAX_BYTES, TOKEN_ALIASES, UsageRecordInput } from './usage-records.schemas';
import { parseIsoDateTime as parseDateTime } from '../../../domain/iso-date-time';

if (!FormatRegistry.Has('date-time')) FormatRegistry.Set('date-time', (value) => parseDateTime(value) !== null);

/**
 * Every field any documented form of a record has, each checked as documented, none
 * required: which fields a record needs depends on how it gives its tokens, and
 * usage-record-tokens.ts says which it lacks. Provider objects are checked by their mapping,
 * which names the wrong field inside them. Its errors are what a client is told.
 */
const { requestId, provider, model, inputTokens, outputTokens } = UsageRecordInput.properties;
const RecordShape = Type.Object(
  {
    ...UsageRecordInput.properties,
    requestId: Type.Optional(requestId),
    provider: Type.Optional(provider),
    model: Type.Optional(model),
    inputTokens: Type.Optional(inputTokens),
    outputTokens: Type.Optional(outputTokens),
    ...Object.fromEntries(
      TOKEN_ALIASES.flatMap((alias) => [
        [alias.input, Type.Optional(inputTokens)],
        [alias.output, Type.Optional(outputTokens)],
      ]),
    ),
    usage: Type.Optional(Type.Unknown()),
    response: Type.Optional(Type.Unknown()),
    // its values are checked with the record's tokens
    usageFormat: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);
type RecordInput = Static<typeof UsageRecordInput> & Static<typeof RecordShape>;

const checker = TypeCompiler.Compile(RecordShape);

/**
 * The record's shape without the three checks that cost the most per record: unknown
 * fields (compiled as a list of names allocated per field), metadata's record type (an
 * entry pair per key) and the date-time format (parsed once more for the draft). `wellFormed`
 * makes those three itself. What it accepts, `checker` accepts; anything else is handed to
 * `checker`, so a client sees the same answer either way.
 */
const { occurredAt: _occurredAt, metadata: _metadata, ...plainFields } = RecordShape.properties;
const plainChecker = TypeCompiler.Compile(Type.Object(plainFields));
const FIELDS = new Set(Object.keys(RecordShape.properties));

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
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
      errors.push(...missingIdentity(value as Record<string, unknown>));
    }
    return { requestId, errors: firstPerPath(errors) };
  }
  const record = value as RecordInput;
  return checkContent(record, record.occurredAt === undefined ? undefined : new Date(record.occurredAt));
}

/**
 * What the schema cannot say: the tokens given one way (and, from a provider object, mapped),
 * metadata's size, a known tokenSource, and no NUL character anywhere.
 */
function checkContent(record: RecordInput, occurredAt: Date | undefined): BatchItem {
  const resolved = recordTokens(record);
  if (!resolved.ok) return { requestId: record.requestId, errors: firstPerPath(resolved.errors) };
  const tokens = resolved.value;
  if (record.tokenSource !== undefined && !(TOKEN_SOURCES as readonly string[]).includes(record.tokenSource)) {
    return {
      requestId: tokens.requestId,
      errors: [{ path: '/tokenSource', message: `must be one of ${TOKEN_SOURCES.join(', ')}` }],
    };
  }
  const cost = typeof record.cost === 'number' ? costOfNumber(record.cost) : { text: record.cost };
  if ('error' in cost) return { requestId: tokens.requestId, errors: [{ path: '/cost', message: cost.error }] };
  const metadataJson = record.metadata === undefined ? undefined : JSON.stringify(record.metadata);
  if (metadataJson !== undefined && Buffer.byteLength(metadataJson) > METADATA_MAX_BYTES) {
    return {
      requestId: tokens.requestId,
      errors: [{ path: '/metadata', message: `metadata must be at most ${METADATA_MAX_BYTES} bytes of JSON` }],
    };
  }
  if (mayHoldNul(record, tokens, metadataJson)) {
    const withNul = fieldsWithNul(record);
    if (withNul.length > 0) {
      return {
        requestId: tokens.requestId,
        errors: withNul.map((key) => ({ path: `/${key}`, message: 'must not contain the NUL character (U+0000)' })),
      };
    }
  }
  return toDraft(record, tokens, occurredAt, cost.text);
}

/** The checked record as a draft; built field by field, as object rest and spread are slow per record. */
function toDraft(
  record: RecordInput,
  tokens: RecordTokens,
  occurredAt: Date | undefined,
  cost: string | undefined,
): UsageRecordDraft {
  return {
    requestId: tokens.requestId,
    occurredAt,
    userId: record.userId,
    provider: tokens.provider,
    model: tokens.model,
    operation: record.operation,
    inputTokens: tokens.inputTokens,
    outputTokens: tokens.outputTokens,
    cachedInputTokens: tokens.cachedInputTokens,
    cacheWriteTokens: tokens.cacheWriteTokens,
    cacheWrite1hTokens: tokens.cacheWrite1hTokens,
    reasoningTokens: tokens.reasoningTokens,
    totalTokens: tokens.totalTokens,
    durationMs: record.durationMs,
    success: record.success,
    error: record.error,
    cost,
    tokenSource: record.tokenSource as TokenSource | undefined,
    metadata: record.metadata,
  };
}

/** Digits a binary double keeps of any decimal: a number with at most this many is the one written. */
const EXACT_DIGITS = 15;

/**
 * A cost that reaches the check as a number: the HTTP body parser hands one with more than 15
 * significant digits over as its exact decimal string (json-money.ts), so this guards callers
 * that build records themselves. A binary double's shortest
 * decimal is the number the client wrote when that has at most 15 significant digits (and at
 * most 18 decimals, as a string may have); more digits mean the client's value was already a
 * float's approximation (0.1 + 0.2 gives 0.30000000000000004) or was rounded on the way, and
 * only a decimal string can carry it exactly.
 */
function costOfNumber(value: number): { text: string } | { error: string } {
  const text = Decimal.fromNumber(value).toString();
  const [whole = '', fraction = ''] = text.split('.');
  const significant = `${whole}${fraction}`.replace(/^0+/, '').length;
  if (significant <= EXACT_DIGITS && fraction.length <= 18) return { text };
  return {
    error: `a cost as a JSON number must have at most ${EXACT_DIGITS} significant digits and 18 decimals (${text} has not); send it as a decimal string to keep it exact`,
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
function mayHoldNul(record: RecordInput, tokens: RecordTokens, metadataJson: string | undefined): boolean {
  return (
    tokens.requestId.includes('\u0000') ||
    tokens.provider.includes('\u0000') ||
    tokens.model.includes('\u0000') ||
    (record.userId?.includes('\u0000') ?? false) ||
    (record.operation?.includes('\u0000') ?? false) ||
    (record.error?.includes('\u0000') ?? false) ||
    (metadataJson?.includes('\\u0000') ?? false)
  );
}

/**
 * PostgreSQL text and jsonb cannot hold U+0000: such a record must be rejected alone, not
 * fail its batch. Provider objects are not stored (an id or model read from a response was
 * checked when it was read).
 */
function fieldsWithNul(record: Record<string, unknown>): string[] {
  const found: string[] = [];
  for (const key of Object.keys(record)) {
    if (key !== 'usage' && key !== 'response' && containsNul(record[key])) found.push(key);
  }
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
