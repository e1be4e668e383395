/**
 * Rows in PostgreSQL's binary COPY format (`COPY … FROM STDIN (FORMAT binary)`): the
 * 19-byte header, then per row a 16-bit field count and each field as a 32-bit length (-1
 * for NULL) followed by the type's binary send format, big-endian; a 16-bit -1 ends it.
 */

export type CopyType = 'text' | 'int4' | 'int8' | 'bool' | 'timestamptz' | 'numeric' | 'jsonb';

/**
 * What each type takes: text and jsonb a string (jsonb: JSON text), int4 a number, int8 a
 * number, bigint or integer string, bool a boolean, timestamptz a Date or a bigint of
 * microseconds since 1970-01-01 UTC, numeric a plain decimal string such as "-0.000001".
 * null and undefined are NULL.
 */
export type CopyValue = string | number | bigint | boolean | Date | null | undefined;

const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
/** 2000-01-01T00:00:00Z, PostgreSQL's epoch, in ms and µs since 1970 */
const PG_EPOCH_MS = 946_684_800_000;
const PG_EPOCH_US = 946_684_800_000_000n;
const NUMERIC_POSITIVE = 0x0000;
const NUMERIC_NEGATIVE = 0x4000;
const NUMERIC_MAX_DSCALE = 0x3fff;
const JSONB_VERSION = 1;
const DECIMAL = /^([+-])?(\d*)(?:\.(\d*))?$/;

/** Signature, flags (no OIDs) and an empty header extension. */
export function copyHeader(): Buffer {
  const header = Buffer.alloc(SIGNATURE.length + 8);
  SIGNATURE.copy(header);
  return header;
}

/** The 16-bit -1 after the last row. */
export function copyTrailer(): Buffer {
  return Buffer.from([0xff, 0xff]);
}

/**
 * PostgreSQL's binary numeric: digit count, weight (of the first base-10000 digit), sign,
 * display scale, then the base-10000 digits without leading or trailing zero digits.
 * "123456789.123456789012" is 1 2345 6789 . 1234 5678 9012 with weight 2 and scale 12.
 */
export function numericDigits(text: string): { weight: number; sign: number; dscale: number; digits: number[] } {
  const match = DECIMAL.exec(text);
  const whole = (match?.[2] ?? '').replace(/^0+/, '');
  const fraction = match?.[3] ?? '';
  if (!match || (match[2] === '' && fraction === '')) throw new RangeError(`not a decimal number: ${text}`);
  if (fraction.length > NUMERIC_MAX_DSCALE) throw new RangeError(`too many fraction digits: ${text}`);
  const padded =
    '0'.repeat((4 - (whole.length % 4)) % 4) + whole + fraction + '0'.repeat((4 - (fraction.length % 4)) % 4);
  const digits: number[] = [];
  for (let i = 0; i < padded.length; i += 4) digits.push(Number(padded.slice(i, i + 4)));
  let weight = Math.ceil(whole.length / 4) - 1;
  let first = 0;
  while (first < digits.length && digits[first] === 0) {
    first += 1;
    weight -= 1;
  }
  let end = digits.length;
  while (end > first && digits[end - 1] === 0) end -= 1;
  if (first === end) return { weight: 0, sign: NUMERIC_POSITIVE, dscale: fraction.length, digits: [] };
  return {
    weight,
    sign: match[1] === '-' ? NUMERIC_NEGATIVE : NUMERIC_POSITIVE,
    dscale: fraction.length,
    digits: digits.slice(first, end),
  };
}

function microsSince2000(value: CopyValue): bigint {
  if (value instanceof Date) {
    const ms = value.getTime();
    if (Number.isNaN(ms)) throw new RangeError('invalid Date');
    return BigInt(ms - PG_EPOCH_MS) * 1000n;
  }
  if (typeof value === 'bigint') return value - PG_EPOCH_US;
  throw new TypeError(`timestamptz takes a Date or bigint microseconds, got ${typeof value}`);
}

/** Encodes rows of fixed column types into one growing buffer; `take()` hands out what is done. */
export class BinaryCopyEncoder {
  private buffer: Buffer;
  private at = 0;

  constructor(
    private readonly types: readonly CopyType[],
    initialBytes = 1 << 20,
  ) {
    this.buffer = Buffer.allocUnsafe(initialBytes);
  }

  /** Bytes encoded so far and not yet taken. */
  get length(): number {
    return this.at;
  }

  row(values: readonly CopyValue[]): void {
    if (values.length !== this.types.length) {
      throw new RangeError(`a row has ${this.types.length} fields, got ${values.length}`);
    }
    const start = this.at;
    try {
      this.room(2);
      this.at = this.buffer.writeInt16BE(values.length, this.at);
      for (let i = 0; i < values.length; i += 1) this.field(this.types[i]!, values[i]);
    } catch (error) {
      this.at = start; // a row is written whole or not at all
      throw error;
    }
  }

  /** The bytes encoded since the last take, as a buffer of their own. */
  take(): Buffer {
    const done = Buffer.from(this.buffer.subarray(0, this.at));
    this.at = 0;
    return done;
  }

  private field(type: CopyType, value: CopyValue): void {
    if (value === null || value === undefined) {
      this.room(4);
      this.at = this.buffer.writeInt32BE(-1, this.at);
      return;
    }
    switch (type) {
      case 'text':
        return this.utf8(String(value), null);
      case 'jsonb':
        return this.utf8(String(value), JSONB_VERSION);
      case 'int4':
        if (typeof value !== 'number' || !Number.isInteger(value))
          throw new TypeError(`int4 takes an integer: ${value}`);
        this.room(8);
        this.at = this.buffer.writeInt32BE(4, this.at);
        this.at = this.buffer.writeInt32BE(value, this.at);
        return;
      case 'int8':
        if (typeof value !== 'number' && typeof value !== 'bigint' && typeof value !== 'string') {
          throw new TypeError(`int8 takes a number, bigint or string: ${String(value)}`);
        }
        this.room(12);
        this.at = this.buffer.writeInt32BE(8, this.at);
        this.at = this.buffer.writeBigInt64BE(BigInt(value), this.at);
        return;
      case 'bool':
        if (typeof value !== 'boolean') throw new TypeError(`bool takes a boolean: ${String(value)}`);
        this.room(5);
        this.at = this.buffer.writeInt32BE(1, this.at);
        this.at = this.buffer.writeUInt8(value ? 1 : 0, this.at);
        return;
      case 'timestamptz':
        this.room(12);
        this.at = this.buffer.writeInt32BE(8, this.at);
        this.at = this.buffer.writeBigInt64BE(microsSince2000(value), this.at);
        return;
      case 'numeric': {
        if (typeof value !== 'string') throw new TypeError(`numeric takes a decimal string: ${String(value)}`);
        const { weight, sign, dscale, digits } = numericDigits(value);
        this.room(12 + 2 * digits.length);
        this.at = this.buffer.writeInt32BE(8 + 2 * digits.length, this.at);
        this.at = this.buffer.writeInt16BE(digits.length, this.at);
        this.at = this.buffer.writeInt16BE(weight, this.at);
        this.at = this.buffer.writeUInt16BE(sign, this.at);
        this.at = this.buffer.writeInt16BE(dscale, this.at);
        for (const digit of digits) this.at = this.buffer.writeInt16BE(digit, this.at);
        return;
      }
    }
  }

  /** A length-prefixed UTF-8 field, after an optional one-byte version (jsonb's). */
  private utf8(text: string, version: number | null): void {
    const prefix = version === null ? 0 : 1;
    this.room(4 + prefix + 3 * text.length);
    const start = this.at + 4;
    if (version !== null) this.buffer.writeUInt8(version, start);
    const written = this.buffer.write(text, start + prefix, 'utf8');
    this.buffer.writeInt32BE(prefix + written, this.at);
    this.at = start + prefix + written;
  }

  private room(bytes: number): void {
    if (this.at + bytes <= this.buffer.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.at + bytes));
    this.buffer.copy(grown, 0, 0, this.at);
    this.buffer = grown;
  }
}
