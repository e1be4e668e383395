/**
 * The columns of a usage export, the one definition that the SQL, the CSV header, the NDJSON
 * keys, the OpenAPI description and the README table follow. Adding a column is an entry here
 * (and its SQL expression, which the type checker then asks for). The order is the CSV's.
 */
export const EXPORT_LEVELS = ['record', 'day'] as const;
export const EXPORT_FORMATS = ['csv', 'ndjson'] as const;
export type ExportLevel = (typeof EXPORT_LEVELS)[number];
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** A cell: text, a whole number, a yes/no, or empty. Decimals (cost) are exact decimal strings. */
export type ExportValue = string | number | boolean | null;

export type ExportKind = 'timestamp' | 'date' | 'text' | 'integer' | 'decimal' | 'boolean';

export interface ExportColumn<Name extends string = string> {
  name: Name;
  kind: ExportKind;
  /** may be empty (null in NDJSON) */
  nullable?: boolean;
  /** a cost field: absent where the deployment hides cost */
  cost?: boolean;
  description: string;
}

const tokens = <Name extends string>(name: Name, description: string): ExportColumn<Name> => ({
  name,
  kind: 'integer',
  description,
});

export const RECORD_COLUMNS = [
  { name: 'occurredAt', kind: 'timestamp', description: 'when the call happened, ISO 8601 in UTC' },
  { name: 'requestId', kind: 'text', description: 'the id the record was sent with' },
  { name: 'userId', kind: 'text', description: 'the user the call is counted for' },
  { name: 'provider', kind: 'text', description: 'provider, lower case' },
  { name: 'model', kind: 'text', description: 'model, lower case' },
  { name: 'operation', kind: 'text', nullable: true, description: 'e.g. chat, embeddings; empty when not sent' },
  tokens('inputTokens', 'input tokens, cached and cache-write included'),
  tokens('outputTokens', 'output tokens, reasoning included'),
  tokens('cachedInputTokens', 'part of inputTokens read from cache'),
  tokens('cacheWriteTokens', 'part of inputTokens written to cache'),
  tokens('cacheWrite1hTokens', 'part of cacheWriteTokens written to a one-hour cache'),
  tokens('reasoningTokens', 'part of outputTokens spent reasoning'),
  tokens('totalTokens', 'inputTokens + outputTokens'),
  {
    name: 'tokenSource',
    kind: 'text',
    description: 'reported (by the provider) or estimated (counted by a tokenizer)',
  },
  { name: 'durationMs', kind: 'integer', nullable: true, description: 'duration of the call; empty when not sent' },
  { name: 'success', kind: 'boolean', description: 'true or false' },
  { name: 'error', kind: 'text', nullable: true, description: 'the error sent with a failed call' },
  {
    name: 'cost',
    kind: 'decimal',
    nullable: true,
    cost: true,
    description: 'exact USD; empty when the price is unknown',
  },
  { name: 'costStatus', kind: 'text', cost: true, description: 'computed, provided or unpriced' },
] as const satisfies readonly ExportColumn[];

export const DAY_COLUMNS = [
  { name: 'day', kind: 'date', description: 'the local calendar day in tz, YYYY-MM-DD' },
  { name: 'dayStart', kind: 'timestamp', description: 'the instant that day starts in tz, ISO 8601 in UTC' },
  { name: 'userId', kind: 'text', description: 'the user' },
  { name: 'provider', kind: 'text', description: 'provider, lower case' },
  { name: 'model', kind: 'text', description: 'model, lower case' },
  tokens('requests', 'calls'),
  tokens('errors', 'failed calls'),
  tokens('inputTokens', 'input tokens, cached and cache-write included'),
  tokens('outputTokens', 'output tokens, reasoning included'),
  tokens('cachedInputTokens', 'part of inputTokens read from cache'),
  tokens('cacheWriteTokens', 'part of inputTokens written to cache'),
  tokens('cacheWrite1hTokens', 'part of cacheWriteTokens written to a one-hour cache'),
  tokens('reasoningTokens', 'part of outputTokens spent reasoning'),
  tokens('totalTokens', 'inputTokens + outputTokens'),
  tokens('durationMsSum', 'sum of the durations sent'),
  tokens('durationCount', 'calls that sent a duration (durationMsSum / durationCount is the mean)'),
  { name: 'cost', kind: 'decimal', cost: true, description: 'exact USD of the priced calls' },
  {
    name: 'unpricedRequests',
    kind: 'integer',
    cost: true,
    description: 'calls of unknown price, not in cost',
  },
] as const satisfies readonly ExportColumn[];

export type RecordColumnName = (typeof RECORD_COLUMNS)[number]['name'];
export type DayColumnName = (typeof DAY_COLUMNS)[number]['name'];

/** The columns of an export at `level`, without the cost ones where cost is hidden. */
export function exportColumns(level: ExportLevel, showCost: boolean): readonly ExportColumn[] {
  const all: readonly ExportColumn[] = level === 'record' ? RECORD_COLUMNS : DAY_COLUMNS;
  return showCost ? all : all.filter((column) => column.cost !== true);
}
