import { Decimal } from '../../domain/decimal';

/**
 * The body fields that carry money as a decimal string or a JSON number: a record's `cost` and
 * a price's rates. A number parses to a binary double, which keeps 15 significant digits for
 * sure: `0.30000000000000001` would arrive as 0.3.
 */
export const MONEY_KEYS: ReadonlySet<string> = new Set([
  'cost',
  'inputPerMillion',
  'outputPerMillion',
  'cachedInputPerMillion',
  'cacheWritePerMillion',
  'cacheWrite1hPerMillion',
  'reasoningPerMillion',
]);

/** Objects whose numbers are not ours: a record's metadata, a provider's usage object or response. */
const AS_THEY_CAME: ReadonlySet<string> = new Set(['metadata', 'usage', 'response']);

/**
 * Could a number in this text lose digits as a double? Only one with more than 15 significant
 * digits (a run of 16 or more digits and a point) or a three-digit exponent. Strings that
 * match too (long ids) only cost the closer look below.
 */
const MAYBE_INEXACT = /[0-9.]{16,}|[eE][+-]?\d{3}/;

/**
 * JSON text in which every number under a money key (outside metadata and provider objects) is written
 * as a string of the exact decimal it spells, so that JSON.parse never turns money into a
 * double; anything else is left as it is. Where no number could lose a digit, the text itself.
 */
export function exactMoneyNumbers(text: string): string {
  if (!MAYBE_INEXACT.test(text)) return text;
  let out = '';
  let copied = 0;
  let lastString: { start: number; end: number } | null = null;
  let afterColon = false;
  const opened: boolean[] = [];
  let asTheyCame = 0;
  for (let i = 0; i < text.length;) {
    const c = text[i]!;
    if (c === '"') {
      const start = i;
      i = stringEnd(text, i);
      lastString = { start, end: i };
      afterColon = false;
      continue;
    }
    if (c === ':') {
      afterColon = true;
      i += 1;
      continue;
    }
    if (c === '-' || (c >= '0' && c <= '9')) {
      const start = i;
      for (i += 1; i < text.length && NUMBER_CHAR.test(text[i]!); i += 1);
      if (afterColon && lastString && asTheyCame === 0 && MONEY_KEYS.has(keyOf(text, lastString))) {
        const exact = exactDecimal(text.slice(start, i));
        if (exact !== null) {
          out += `${text.slice(copied, start)}"${exact}"`;
          copied = i;
        }
      }
      afterColon = false;
      continue;
    }
    if (c === '{' || c === '[') {
      // a client's metadata and a provider's usage or response are read as they came
      opened.push(afterColon && lastString !== null && AS_THEY_CAME.has(keyOf(text, lastString)));
      if (opened[opened.length - 1]) asTheyCame += 1;
    } else if (c === '}' || c === ']') {
      if (opened.pop()) asTheyCame -= 1;
    }
    if (c !== ' ' && c !== '\t' && c !== '\n' && c !== '\r') afterColon = false;
    i += 1;
  }
  return copied === 0 ? text : out + text.slice(copied);
}

const NUMBER_CHAR = /[0-9.eE+-]/;

/** Just past the string starting at `start` (a quote): the next quote not escaped by a backslash. */
function stringEnd(text: string, start: number): number {
  for (let quote = text.indexOf('"', start + 1); quote >= 0; quote = text.indexOf('"', quote + 1)) {
    let backslashes = 0;
    while (text[quote - 1 - backslashes] === '\\') backslashes += 1;
    if (backslashes % 2 === 0) return quote + 1;
  }
  return text.length;
}

function keyOf(text: string, string: { start: number; end: number }): string {
  const raw = text.slice(string.start + 1, string.end - 1);
  if (!raw.includes('\\')) return raw;
  try {
    return JSON.parse(text.slice(string.start, string.end)) as string;
  } catch {
    return '';
  }
}

/** The plain decimal a JSON number literal spells, or null where it is none (JSON.parse reports it). */
function exactDecimal(literal: string): string | null {
  try {
    return Decimal.fromLiteral(literal).toString();
  } catch {
    return null;
  }
}
