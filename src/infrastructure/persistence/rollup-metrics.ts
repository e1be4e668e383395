/** The additive metric columns of every rollup table (last_occurred_at, a maximum, is not one). */
export const ADDITIVE_METRICS = [
  'requests',
  'errors',
  'input_tokens',
  'output_tokens',
  'cached_input_tokens',
  'cache_write_tokens',
  'reasoning_tokens',
  'total_tokens',
  'duration_ms_sum',
  'duration_count',
  'cost',
  'unpriced_requests',
] as const;
