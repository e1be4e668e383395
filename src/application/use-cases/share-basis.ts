import type { UsageTotals } from '../ports/usage-queries.port';

/** Shares are of total tokens; when nothing used a token (e.g. all failed), of requests. */
export function shareBasis(rows: ReadonlyArray<Pick<UsageTotals, 'totalTokens' | 'requests'>>): number[] {
  const tokens = rows.reduce((sum, r) => sum + r.totalTokens, 0);
  return rows.map((r) => (tokens > 0 ? r.totalTokens : r.requests));
}
