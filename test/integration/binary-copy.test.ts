import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import pgCopy from 'pg-copy-streams';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import {
  BinaryCopyEncoder,
  copyHeader,
  copyTrailer,
  numericDigits,
  type CopyType,
  type CopyValue,
} from '../../bench/binary-copy';

const COLUMNS: Array<[name: string, type: CopyType]> = [
  ['id', 'int4'],
  ['t', 'text'],
  ['i8', 'int8'],
  ['b', 'bool'],
  ['ts', 'timestamptz'],
  ['n', 'numeric'],
  ['j', 'jsonb'],
];

/** Each row as written, and each field as PostgreSQL prints it back (null for NULL). */
const ROWS: Array<{ values: CopyValue[]; text: Array<string | null> }> = [
  {
    values: [
      1,
      'chatcmpl-9x2Lk',
      9_007_199_254_740_993n,
      true,
      new Date('2026-11-20T14:03:07.120Z'),
      '0.000001',
      '{"app": "search", "env": "prod"}',
    ],
    text: [
      '1',
      'chatcmpl-9x2Lk',
      '9007199254740993',
      'true',
      '1795183387120000',
      '0.000001',
      '{"app": "search", "env": "prod"}',
    ],
  },
  {
    values: [
      2,
      'Grüße 😀 \\ \t "quoted"',
      '-9223372036854775808',
      false,
      1_795_183_387_123_456n,
      '123456789.123456789012',
      '[1, "x", null, {"a": [true]}]',
    ],
    text: [
      '2',
      'Grüße 😀 \\ \t "quoted"',
      '-9223372036854775808',
      'false',
      '1795183387123456',
      '123456789.123456789012',
      '[1, "x", null, {"a": [true]}]',
    ],
  },
  {
    values: [3, '', 0, true, new Date('1999-12-31T23:59:59.999Z'), '0', '{}'],
    text: ['3', '', '0', 'true', '946684799999000', '0', '{}'],
  },
  {
    values: [-2_147_483_648, null, null, null, null, null, null],
    text: ['-2147483648', null, null, null, null, null, null],
  },
  {
    values: [5, 'x', 9_223_372_036_854_775_807n, false, new Date('2000-01-01T00:00:00Z'), '-0.5', '"text"'],
    text: ['5', 'x', '9223372036854775807', 'false', '946684800000000', '-0.5', '"text"'],
  },
  { values: [6, 'a', 42, true, 0n, '10000', 'null'], text: ['6', 'a', '42', 'true', '0', '10000', 'null'] },
  { values: [7, 'b', '7', false, -1n, '1.50', '1.5'], text: ['7', 'b', '7', 'false', '-1', '1.50', '1.5'] },
  { values: [8, 'c', 8, true, null, '-123.4567', null], text: ['8', 'c', '8', 'true', null, '-123.4567', null] },
  { values: [9, 'd', 9, true, null, '0.0001', null], text: ['9', 'd', '9', 'true', null, '0.0001', null] },
  { values: [10, 'e', 10, true, null, '-0.000', null], text: ['10', 'e', '10', 'true', null, '0.000', null] },
  {
    values: [11, 'f', 11, true, null, '99999999999999999999.00000000000000000001', null],
    text: ['11', 'f', '11', 'true', null, '99999999999999999999.00000000000000000001', null],
  },
  { values: [12, 'g', 12, true, null, '100000000', null], text: ['12', 'g', '12', 'true', null, '100000000', null] },
  { values: [13, 'h', 13, true, null, '00012.3400', null], text: ['13', 'h', '13', 'true', null, '12.3400', null] },
  { values: [14, 'i', 14, true, null, '.5', null], text: ['14', 'i', '14', 'true', null, '0.5', null] },
];

describe('binary COPY encoder', () => {
  let client: pg.Client;

  beforeAll(async () => {
    client = new pg.Client({ connectionString: inject('postgresUrl') });
    await client.connect();
    await client.query(
      `CREATE TEMP TABLE copy_scratch (${COLUMNS.map(([name, type]) => `${name} ${type}`).join(', ')})`,
    );
  });

  afterAll(async () => {
    await client.end();
  });

  it('writes rows that PostgreSQL reads back exactly', async () => {
    const encoder = new BinaryCopyEncoder(
      COLUMNS.map(([, type]) => type),
      64, // small, so that the buffer has to grow
    );
    const chunks = [copyHeader()];
    for (const row of ROWS) {
      encoder.row(row.values);
      if (encoder.length > 100) chunks.push(encoder.take());
    }
    chunks.push(encoder.take(), copyTrailer());
    await pipeline(Readable.from(chunks), client.query(pgCopy.from('COPY copy_scratch FROM STDIN (FORMAT binary)')));

    const read = await client.query({
      text: `SELECT id::text, t, i8::text, b::text, (extract(epoch FROM ts) * 1000000)::int8::text AS ts, n::text, j::text
             FROM copy_scratch ORDER BY copy_scratch.id`,
      rowMode: 'array',
    });
    const expected = [...ROWS].sort((a, b) => Number(a.text[0]) - Number(b.text[0])).map((row) => row.text);
    expect(read.rows).toEqual(expected);
  });

  it('splits numerics into base-10000 digits with weight and display scale', () => {
    expect(numericDigits('123456789.123456789012')).toEqual({
      weight: 2,
      sign: 0,
      dscale: 12,
      digits: [1, 2345, 6789, 1234, 5678, 9012],
    });
    expect(numericDigits('0.000001')).toEqual({ weight: -2, sign: 0, dscale: 6, digits: [100] });
    expect(numericDigits('0')).toEqual({ weight: 0, sign: 0, dscale: 0, digits: [] });
    expect(numericDigits('-10000')).toEqual({ weight: 1, sign: 0x4000, dscale: 0, digits: [1] });
    for (const bad of ['', '.', '1e5', '1.2.3', 'NaN', ' 1']) expect(() => numericDigits(bad)).toThrow(RangeError);
  });

  it('refuses values that do not fit their column', () => {
    const encoder = new BinaryCopyEncoder(['int4', 'int8', 'bool']);
    expect(() => encoder.row([2 ** 31, 1, true])).toThrow(RangeError);
    expect(() => encoder.row([1, 2n ** 63n, true])).toThrow(RangeError);
    expect(() => encoder.row([1.5, 1, true])).toThrow(TypeError);
    expect(() => encoder.row([1, 1])).toThrow(RangeError);
    expect(encoder.length).toBe(0); // a refused row leaves nothing behind
  });
});
