import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { nestsDeeperThan } from '../../src/interface/http/json-depth';

/** The nesting of a parsed value, counted without recursion. */
function depthOf(value: unknown): number {
  let deepest = 0;
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [item, depth] = stack.pop()!;
    if (typeof item !== 'object' || item === null) continue;
    deepest = Math.max(deepest, depth + 1);
    for (const child of Object.values(item)) stack.push([child, depth + 1]);
  }
  return deepest;
}

const nest = (value: unknown, levels: number, asObject: boolean): unknown => {
  let out = value;
  for (let i = 0; i < levels; i += 1) out = asObject ? { 'k"[{\\': out } : [out, '"]}\\'];
  return out;
};

describe('nestsDeeperThan', () => {
  it('agrees with the nesting of the parsed value, whatever the strings hold', () => {
    fc.assert(
      fc.property(
        fc.json({ maxDepth: 4 }),
        fc.integer({ min: 0, max: 40 }),
        fc.boolean(),
        fc.integer({ min: 1, max: 30 }),
        (json, levels, asObject, limit) => {
          const text = JSON.stringify(nest(JSON.parse(json), levels, asObject));
          // short texts are answered by their length alone, so the limit is checked on padded ones too
          for (const padded of [text, `${' '.repeat(2 * limit)}${text}`]) {
            expect(nestsDeeperThan(padded, limit)).toBe(depthOf(JSON.parse(padded)) > limit);
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});
