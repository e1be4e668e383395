/**
 * Shares of a whole in percent with two decimals that add up to exactly 100 (largest
 * remainder method), so a pie chart never shows 99.99 %. All zero: all shares 0.
 */
export function percentages(values: readonly number[]): number[] {
  const total = values.reduce((sum, v) => sum + v, 0);
  if (total <= 0) return values.map(() => 0);
  const exact = values.map((v) => (v * 10_000) / total);
  const floors = exact.map(Math.floor);
  let missing = 10_000 - floors.reduce((sum, v) => sum + v, 0);
  const order = exact.map((v, i) => ({ i, rest: v - Math.floor(v) })).sort((a, b) => b.rest - a.rest || a.i - b.i);
  for (const { i } of order) {
    if (missing <= 0) break;
    floors[i]! += 1;
    missing -= 1;
  }
  return floors.map((v) => v / 100);
}
