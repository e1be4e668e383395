import fc from 'fast-check';
import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import type { ExportColumn, ExportValue } from '../../src/domain/usage-export';
import { exportEncoder } from '../../src/interface/http/routes/usage-export.format';

const COLUMNS: readonly ExportColumn[] = [
  { name: 'userId', kind: 'text', description: 'text' },
  { name: 'error', kind: 'text', nullable: true, description: 'text' },
  { name: 'inputTokens', kind: 'integer', description: 'number' },
];

async function csvOf(batches: ReadonlyArray<ReadonlyArray<readonly ExportValue[]>>): Promise<string> {
  const encoder = exportEncoder('csv', COLUMNS);
  const chunks: string[] = [];
  encoder.on('data', (chunk) => chunks.push(String(chunk)));
  const ended = new Promise((resolve) => encoder.on('end', resolve));
  for (const batch of batches) encoder.write(batch);
  encoder.end();
  await ended;
  return chunks.join('');
}

/** What a spreadsheet-safe cell holds: the text, with an apostrophe where it could start a formula. */
const FORMULA_START = /^[=+\-@\t\r\uFF1D\uFF0B\uFF0D\uFF20]/;
const shown = (text: string): string => (FORMULA_START.test(text) ? `'${text}` : text);

// text made mostly of what CSV and spreadsheets treat specially
const hostileText = fc.string({
  unit: fc.oneof(
    fc.constantFrom('\n', '\r', '\r\n', '"', ',', ';', '=', '+', '-', '@', '\t', "'", ' ', '\uFF1D', 'a', 'é'),
    fc.string({ maxLength: 3 }),
  ),
  maxLength: 12,
});

describe('CSV export encoding', () => {
  it('reads back as exactly the rows written, whatever the text holds, also by a reader that ends a row at any line break', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(fc.tuple(hostileText, fc.option(hostileText), fc.nat()), { maxLength: 4 }), {
          maxLength: 3,
        }),
        async (batches) => {
          const csv = await csvOf(batches);
          // spreadsheets end a row at CRLF, LF or CR alike: only quoting keeps a line break in its cell
          const rows = parse(csv, { record_delimiter: ['\r\n', '\n', '\r'], relax_quotes: false }) as string[][];
          expect(rows[0]).toEqual(['userId', 'error', 'inputTokens']);
          expect(rows.slice(1)).toEqual(
            batches
              .flat()
              .map(([user, error, tokens]) => [shown(user), error === null ? '' : shown(error), String(tokens)]),
          );
        },
      ),
      { numRuns: 500 },
    );
  });

  it('quotes a cell with a lone line feed or carriage return, so the row stays one row', async () => {
    const csv = await csvOf([
      [
        ['u1', 'upstream 500\nInternal Server Error', 1],
        ['u2', 'first\rsecond', 2],
      ],
    ]);
    expect(csv).toBe(
      'userId,error,inputTokens\r\nu1,"upstream 500\nInternal Server Error",1\r\nu2,"first\rsecond",2\r\n',
    );
  });
});
