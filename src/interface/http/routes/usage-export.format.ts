import { Transform } from 'node:stream';
import { stringify, type Options } from 'csv-stringify/sync';
import type { ExportColumn, ExportFormat, ExportValue } from '../../../domain/usage-export';

export const MEDIA_TYPES: Record<ExportFormat, string> = {
  csv: 'text/csv; charset=utf-8; header=present',
  ndjson: 'application/x-ndjson; charset=utf-8',
};

/**
 * RFC 4180: CRLF, quotes where needed. A text cell starting with =, +, -, @, tab or CR gets an
 * apostrophe in front, so a spreadsheet shows it instead of running it; numbers are never
 * changed (none is negative: tokens, durations and costs are not).
 */
const CSV: Options = {
  record_delimiter: 'windows',
  // a lone LF or CR in a cell quoted too: with a CRLF record delimiter the library would
  // otherwise quote only a cell holding CRLF itself, and a reader would split the row there
  quote_record_delimiter: true,
  escape_formulas: true,
  cast: { boolean: (value) => (value ? 'true' : 'false') },
};

type Batch = ReadonlyArray<readonly ExportValue[]>;

/** Lines of one batch of rows. */
function encoder(format: ExportFormat, columns: readonly ExportColumn[]): (rows: Batch) => string {
  if (format === 'csv') return (rows) => stringify(rows as ExportValue[][], CSV);
  // each key written once per column, each value as JSON
  const keys = columns.map((c, i) => `${i === 0 ? '{' : ','}${JSON.stringify(c.name)}:`);
  return (rows) => {
    let text = '';
    for (const row of rows) {
      for (let i = 0; i < keys.length; i += 1) text += keys[i]! + JSON.stringify(row[i] ?? null);
      text += '}\n';
    }
    return text;
  };
}

/**
 * Batches of rows in, text out; the CSV header first (also when there are no rows). Object
 * mode on the writable side with room for one batch: a slow reader stops the database reads.
 */
export function exportEncoder(format: ExportFormat, columns: readonly ExportColumn[]): Transform {
  const encode = encoder(format, columns);
  const header = format === 'csv' ? stringify([columns.map((c) => c.name)], CSV) : '';
  let started = false;
  const start = (stream: Transform): void => {
    if (!started && header) stream.push(header);
    started = true;
  };
  return new Transform({
    writableObjectMode: true,
    writableHighWaterMark: 1,
    transform(rows: Batch, _encoding, done) {
      start(this);
      done(null, encode(rows));
    },
    flush(done) {
      start(this);
      done();
    },
  });
}
