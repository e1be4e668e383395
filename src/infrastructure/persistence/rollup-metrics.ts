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

/** The 15-minute slot a raw record falls in (usage_slot_providers); every UTC offset is a multiple of it. */
export const SLOT = "date_bin('15 minutes', occurred_at, timestamptz '2000-01-01 00:00:00+00')";
