import type { BatchItem, IngestResult } from '../../../application/use-cases/ingest-usage';
import { GENAI_ATTRIBUTES, spanToUsage, type OtelSpan } from '../../../domain/genai-span';
import type { FieldError } from '../../../domain/token-usage';
import type { UsageRecordDraft } from '../../../domain/usage-record';
import { checkRecord } from '../routes/usage-record-check';

/** Spans turned into ingest items, and what became of the spans that are not among them. */
export interface SpanBatch {
  items: BatchItem[];
  /** the span behind each item, and the attribute each of its fields came from */
  origins: Array<{ span: OtelSpan; sources: Readonly<Partial<Record<string, string>>> }>;
  ignored: number;
  refusals: string[];
}

/** When nothing says where a field came from, the attribute (or span field) that would carry it. */
const DEFAULT_SOURCES: Readonly<Record<string, string>> = {
  requestId: GENAI_ATTRIBUTES.responseId[0],
  provider: GENAI_ATTRIBUTES.provider[0],
  model: GENAI_ATTRIBUTES.responseModel[0],
  operation: GENAI_ATTRIBUTES.operation[0],
  userId: GENAI_ATTRIBUTES.user[0],
  inputTokens: GENAI_ATTRIBUTES.inputTokens[0],
  outputTokens: GENAI_ATTRIBUTES.outputTokens[0],
  cachedInputTokens: GENAI_ATTRIBUTES.cachedInputTokens[0],
  cacheWriteTokens: GENAI_ATTRIBUTES.cacheWriteTokens[0],
  reasoningTokens: GENAI_ATTRIBUTES.reasoningTokens[0],
  occurredAt: 'startTimeUnixNano',
  durationMs: 'endTimeUnixNano',
  error: 'status.message',
};

/**
 * Maps each span to a usage record and checks it as `POST /v1/usage/records` checks a record
 * (the same bounds, the same messages), so that both ways in store the same thing.
 */
export function spanBatch(spans: ReadonlyArray<OtelSpan>): SpanBatch {
  const batch: SpanBatch = { items: [], origins: [], ignored: 0, refusals: [] };
  for (const span of spans) {
    const outcome = spanToUsage(span);
    if (outcome.kind === 'ignored') {
      batch.ignored += 1;
    } else if (outcome.kind === 'rejected') {
      batch.refusals.push(refusal(span, outcome.errors));
    } else {
      const item = checkRecord(recordInput(outcome.draft));
      if ('errors' in item) batch.refusals.push(refusal(span, named(item.errors, outcome.sources)));
      else {
        batch.items.push(item);
        batch.origins.push({ span, sources: outcome.sources });
      }
    }
  }
  return batch;
}

/** The refusals of the batch and of ingest together: what the OTLP answer's partial success tells. */
export function refusalsAfterIngest(batch: SpanBatch, result: IngestResult): string[] {
  const refusals = [...batch.refusals];
  for (const rejected of result.rejected) {
    const origin = batch.origins[rejected.index]!;
    refusals.push(refusal(origin.span, named(rejected.errors, origin.sources)));
  }
  return refusals;
}

const MESSAGES_SHOWN = 5;

/** One line for the client's log: the first few refusals, and how many more there were. */
export function refusalMessage(refusals: ReadonlyArray<string>): string {
  const shown = refusals.slice(0, MESSAGES_SHOWN).join('; ');
  const more = refusals.length - MESSAGES_SHOWN;
  return more > 0 ? `${shown}; and ${more} more` : shown;
}

/** A draft in the shape of the records route's input, without the fields it leaves unset. */
function recordInput(draft: UsageRecordDraft): Record<string, unknown> {
  const input: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(draft)) {
    if (value !== undefined) input[key] = value instanceof Date ? value.toISOString() : value;
  }
  return input;
}

/** Field errors of a record (paths like /inputTokens) under the span attribute the field came from. */
function named(errors: ReadonlyArray<FieldError>, sources: Readonly<Partial<Record<string, string>>>): FieldError[] {
  return errors.map((error) => {
    const field = error.path.replace(/^\//, '').split('/')[0] ?? '';
    return { path: sources[field] ?? DEFAULT_SOURCES[field] ?? field, message: error.message };
  });
}

function refusal(span: OtelSpan, errors: ReadonlyArray<FieldError>): string {
  const which = span.spanId ? `span ${span.spanId.slice(0, 32)}` : 'a span without spanId';
  const name = span.name ? ` (${JSON.stringify(span.name.slice(0, 100))})` : '';
  return `${which}${name}: ${errors.map((e) => `${e.path}: ${e.message}`).join(', ')}`;
}
