/**
 * Exact non-negative-or-negative decimal numbers for money and prices.
 * Backed by BigInt so that 0.1 + 0.2 is 0.3 and a million micro-dollars sum to one dollar.
 */
/** Beyond any amount of money or price: 10^±400 already has no double either. */
const MAX_EXPONENT = 400;

export class Decimal {
  private constructor(
    /** the value times 10^scale */
    readonly units: bigint,
    readonly scale: number,
  ) {}

  static readonly ZERO = new Decimal(0n, 0);

  private static readonly PATTERN = /^(-)?(\d+)(?:\.(\d+))?$/;

  static isValid(text: string): boolean {
    return Decimal.PATTERN.test(text);
  }

  /** Parses a plain decimal string such as "2.50" or "-0.000001"; no exponents, no floats. */
  static parse(text: string): Decimal {
    const match = Decimal.PATTERN.exec(text);
    if (!match) throw new RangeError(`not a decimal number: ${JSON.stringify(text)}`);
    const [, sign, whole, fraction = ''] = match;
    const units = BigInt(`${whole}${fraction}`);
    return new Decimal(sign ? -units : units, fraction.length);
  }

  /**
   * Takes a JSON number at the decimal text it was written as (its shortest round-trip
   * form), so 0.1 stays 0.1 and 1e-7 becomes 0.0000001; no binary arithmetic happens.
   */
  static fromNumber(value: number): Decimal {
    if (!Number.isFinite(value)) throw new RangeError(`not a finite number: ${value}`);
    return Decimal.fromLiteral(String(value));
  }

  /** A number as JSON writes it ("1.5", "-2e-7", "3.0000000000000001E+2"), exactly. */
  static fromLiteral(text: string): Decimal {
    const match = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/.exec(text);
    if (!match) throw new RangeError(`not a decimal number: ${text}`);
    const [, sign, whole, fraction = '', exponent = '0'] = match;
    const shift = Number(exponent);
    // a hostile "1e999999999" would otherwise be a billion-digit BigInt
    if (Math.abs(shift) > MAX_EXPONENT) throw new RangeError(`exponent out of range: ${text}`);
    let units = BigInt(`${whole}${fraction}`);
    let scale = fraction.length - shift;
    if (scale < 0) {
      units *= 10n ** BigInt(-scale);
      scale = 0;
    }
    return new Decimal(sign ? -units : units, scale);
  }

  /** The value `units` × 10^-scale, e.g. (2469n, 7) is 0.0002469. */
  static fromUnits(units: bigint, scale: number): Decimal {
    if (!Number.isInteger(scale) || scale < 0) throw new RangeError(`not a valid scale: ${scale}`);
    return new Decimal(units, scale);
  }

  static fromInteger(value: number | bigint): Decimal {
    if (typeof value === 'number' && !Number.isSafeInteger(value)) {
      throw new RangeError(`not a safe integer: ${value}`);
    }
    return new Decimal(BigInt(value), 0);
  }

  plus(other: Decimal): Decimal {
    const scale = Math.max(this.scale, other.scale);
    return new Decimal(this.rescaled(scale) + other.rescaled(scale), scale);
  }

  times(other: Decimal): Decimal {
    return new Decimal(this.units * other.units, this.scale + other.scale);
  }

  /** Exact division by a power of ten (e.g. per-million prices to per-token). */
  shiftLeft(digits: number): Decimal {
    return new Decimal(this.units, this.scale + digits);
  }

  isZero(): boolean {
    return this.units === 0n;
  }

  isNegative(): boolean {
    return this.units < 0n;
  }

  compare(other: Decimal): number {
    const scale = Math.max(this.scale, other.scale);
    const a = this.rescaled(scale);
    const b = other.rescaled(scale);
    return a === b ? 0 : a < b ? -1 : 1;
  }

  /** The value times 10^scale, for a scale at least this one's (exact: only appends zeros). */
  unitsAt(scale: number): bigint {
    if (scale < this.scale) throw new RangeError(`cannot rescale ${this.scale} fraction digits to ${scale}`);
    return this.rescaled(scale);
  }

  /** Plain decimal text without trailing zeros beyond `minScale` fraction digits. */
  toString(minScale = 0): string {
    // one BigInt-to-text conversion; trailing zeros are trimmed on the text, not by BigInt division
    const negative = this.units < 0n;
    const digits = (negative ? -this.units : this.units).toString().padStart(this.scale + 1, '0');
    let end = digits.length;
    const fractionStart = digits.length - this.scale;
    while (end > fractionStart + minScale && digits.charCodeAt(end - 1) === ZERO_CHAR) end -= 1;
    const whole = digits.slice(0, fractionStart);
    const fraction = digits.slice(fractionStart, end).padEnd(minScale, '0');
    return `${negative ? '-' : ''}${whole}${fraction.length > 0 ? `.${fraction}` : ''}`;
  }

  private rescaled(scale: number): bigint {
    return scale === this.scale ? this.units : this.units * powerOfTen(scale - this.scale);
  }
}

const ZERO_CHAR = 48; // '0'

/** 10^0 … 10^63, so that rescaling does not compute a BigInt power each time. */
const POWERS_OF_TEN: bigint[] = Array.from({ length: 64 }, (_, exponent) => 10n ** BigInt(exponent));

function powerOfTen(exponent: number): bigint {
  return POWERS_OF_TEN[exponent] ?? 10n ** BigInt(exponent);
}
