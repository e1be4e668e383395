/**
 * The deepest a JSON body may nest. Real bodies nest a few levels (a tool's JSON schema in a
 * prompt a few dozen); parsing a deeper one is fine, but the walks that follow it (validation,
 * the prototype-key check, metadata, a prompt's text) recurse, and ~50,000 levels overflowed
 * the stack: a 500 for a client's body.
 */
export const MAX_JSON_DEPTH = 512;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACKET = 0x5b;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACKET = 0x5d;
const CLOSE_BRACE = 0x7d;

/** Whether JSON text nests arrays and objects deeper than `limit`: one pass, strings skipped. */
export function nestsDeeperThan(text: string, limit = MAX_JSON_DEPTH): boolean {
  // a body shorter than two characters a level cannot reach the limit
  if (text.length <= 2 * limit) return false;
  let depth = 0;
  for (let i = 0; i < text.length; i += 1) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      // to the closing quote: one not escaped by an odd number of backslashes
      let end = text.indexOf('"', i + 1);
      while (end > 0 && escaped(text, end)) end = text.indexOf('"', end + 1);
      if (end < 0) return false;
      i = end;
    } else if (c === OPEN_BRACKET || c === OPEN_BRACE) {
      depth += 1;
      if (depth > limit) return true;
    } else if (c === CLOSE_BRACKET || c === CLOSE_BRACE) depth -= 1;
  }
  return false;
}

function escaped(text: string, at: number): boolean {
  let backslashes = 0;
  while (text.charCodeAt(at - 1 - backslashes) === BACKSLASH) backslashes += 1;
  return backslashes % 2 === 1;
}
