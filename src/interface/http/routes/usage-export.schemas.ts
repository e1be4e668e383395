import { Type, type TProperties } from '@sinclair/typebox';
import {
  DAY_COLUMNS,
  EXPORT_FORMATS,
  EXPORT_LEVELS,
  RECORD_COLUMNS,
  type ExportColumn,
} from '../../../domain/usage-export';
import { StringEnum, WithDefault } from '../schemas/common';
import { UsageQuery } from './usage-tab.schemas';

const { granularity: _granularity, tz: _tz, ...window } = UsageQuery.properties;

export const UsageExportQuery = Type.Object({
  ...(window as TProperties),
  tz: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 64,
      description: 'IANA time zone of the days at level=day; default UTC (records are always in UTC)',
      examples: ['Europe/Berlin'],
    }),
  ),
  format: WithDefault(
    StringEnum(EXPORT_FORMATS, {
      default: 'csv',
      description: 'csv (RFC 4180, a header row) or ndjson (one JSON object per line)',
    }),
  ),
  level: WithDefault(
    StringEnum(EXPORT_LEVELS, {
      default: 'record',
      description:
        'record: every raw record (within raw retention); day: sums per local day, user, provider and model, from the rollups (also past raw retention)',
    }),
  ),
});

const columnList = (columns: readonly ExportColumn[]): string =>
  columns.map((c) => `\`${c.name}\` (${c.description}${c.cost ? '; not in cloud mode' : ''})`).join(', ');

const COLUMNS = `Columns at level=record: ${columnList(RECORD_COLUMNS)}. At level=day: ${columnList(DAY_COLUMNS)}.`;

export const EXPORT_DESCRIPTION = `Streams the workspace's usage of [from, to), oldest first, as CSV or NDJSON. ${COLUMNS} CSV: a header row, CRLF line ends, RFC 4180 quoting, booleans as true/false, empty cells for nulls, and a text cell beginning with =, +, -, @, tab or CR prefixed with an apostrophe (') so that a spreadsheet never runs it as a formula. NDJSON: the same names as keys, numbers as numbers, cost as a decimal string, null for empty. A response cut short (the connection closes before the final chunk) is incomplete.`;

/** The 200 answer: either media type, a stream of text. */
export const UsageExportResponse = {
  description: 'The export, streamed; `Content-Disposition` names a file',
  content: {
    'text/csv': {
      schema: Type.String({ description: 'RFC 4180 CSV with a header row' }),
      example: csvExample(),
    },
    'application/x-ndjson': {
      schema: Type.String({ description: 'one JSON object per line' }),
      example: ndjsonExample(),
    },
  },
};

function csvExample(): string {
  return 'occurredAt,requestId,userId,provider,model,...\r\n2026-11-03T09:15:00.000Z,req-1,alice,openai,gpt-4o,...\r\n';
}

function ndjsonExample(): string {
  return '{"occurredAt":"2026-11-03T09:15:00.000Z","requestId":"req-1","userId":"alice","provider":"openai","model":"gpt-4o",...}\n';
}
