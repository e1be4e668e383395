/**
 * The one definition of the rollups: which tables exist, at which time grain, with which
 * dimensions, and how a raw record turns into their sums. The fold, the usage queries, the
 * erasure, the bench and the tests' recomputation are generated from it; a test checks it
 * against the live schema. Adding a rollup is an entry here plus its DDL in a migration.
 */

export type Dimension = 'user_id' | 'provider' | 'model' | 'operation';
export type Grain = 'slot' | 'hour' | 'quarter' | 'day' | 'dekad' | 'month';

/**
 * Each dimension's value for a raw record. A record may name no operation; a key cannot hold
 * NULL, so the rollups keep it as '' and queries `read` it back as NULL.
 */
export const DIMENSIONS: Record<Dimension, { ofRecord: (alias?: string) => string; read: string }> = {
  user_id: { ofRecord: (alias) => column(alias, 'user_id'), read: 'user_id' },
  provider: { ofRecord: (alias) => column(alias, 'provider'), read: 'provider' },
  model: { ofRecord: (alias) => column(alias, 'model'), read: 'model' },
  operation: { ofRecord: (alias) => `coalesce(${column(alias, 'operation')}, '')`, read: "nullif(operation, '')" },
};

function column(alias: string | undefined, name: string): string {
  return alias === undefined ? name : `${alias}.${name}`;
}

/** A dimension of a raw record (`alias` the record's), named as the rollups name it. */
export function dimensionOfRecord(dimension: Dimension, alias?: string): string {
  return `${DIMENSIONS[dimension].ofRecord(alias)} AS ${dimension}`;
}

interface Metric {
  name: string;
  type: 'bigint' | 'numeric' | 'timestamptz';
  /** its value over a group of raw records */
  fromRecords: string;
  /** its value for one raw record (a row of facts, summed later) */
  ofRecord: string;
  /** how two partial values combine */
  combine: 'sum' | 'max';
}

/** The additive metrics every rollup keeps, each with how it derives from raw records. */
export const METRICS = [
  { name: 'requests', type: 'bigint', fromRecords: 'count(*)', ofRecord: '1', combine: 'sum' },
  {
    name: 'errors',
    type: 'bigint',
    fromRecords: 'count(*) FILTER (WHERE NOT success)',
    ofRecord: 'CASE WHEN success THEN 0 ELSE 1 END',
    combine: 'sum',
  },
  ...(
    [
      'input_tokens',
      'output_tokens',
      'cached_input_tokens',
      'cache_write_tokens',
      'reasoning_tokens',
      'total_tokens',
    ] as const
  ).map((name) => ({ name, type: 'bigint', fromRecords: `sum(${name})`, ofRecord: name, combine: 'sum' }) as const),
  {
    name: 'duration_ms_sum',
    type: 'bigint',
    fromRecords: 'coalesce(sum(duration_ms), 0)',
    ofRecord: 'coalesce(duration_ms, 0)',
    combine: 'sum',
  },
  {
    name: 'duration_count',
    type: 'bigint',
    fromRecords: 'count(duration_ms)',
    ofRecord: 'CASE WHEN duration_ms IS NULL THEN 0 ELSE 1 END',
    combine: 'sum',
  },
  {
    name: 'cost',
    type: 'numeric',
    fromRecords: 'coalesce(sum(cost), 0)',
    ofRecord: 'coalesce(cost, 0)',
    combine: 'sum',
  },
  {
    name: 'unpriced_requests',
    type: 'bigint',
    fromRecords: 'count(*) FILTER (WHERE cost IS NULL)',
    ofRecord: 'CASE WHEN cost IS NULL THEN 1 ELSE 0 END',
    combine: 'sum',
  },
  {
    // with unpriced_requests: the coverage (share of requests and tokens priced), past raw retention too
    name: 'unpriced_tokens',
    type: 'bigint',
    fromRecords: 'coalesce(sum(total_tokens) FILTER (WHERE cost IS NULL), 0)',
    ofRecord: 'CASE WHEN cost IS NULL THEN total_tokens ELSE 0 END',
    combine: 'sum',
  },
  {
    // the part of cache_write_tokens written to a one-hour cache, priced apart: what lets re-pricing
    // price an hour past raw retention from its sums
    name: 'cache_write_1h_tokens',
    type: 'bigint',
    fromRecords: 'sum(cache_write_1h_tokens)',
    ofRecord: 'cache_write_1h_tokens',
    combine: 'sum',
  },
  {
    // the records whose cost re-pricing keeps: what tells, past raw retention, which hours can be
    // re-priced from their token sums (those without any)
    name: 'provided_requests',
    type: 'bigint',
    fromRecords: "count(*) FILTER (WHERE cost_status = 'provided')",
    ofRecord: "CASE WHEN cost_status = 'provided' THEN 1 ELSE 0 END",
    combine: 'sum',
  },
] as const satisfies readonly Metric[];

export type MetricName = (typeof METRICS)[number]['name'];

/** The names of the additive metrics, in table order. */
export const ADDITIVE_METRICS: readonly MetricName[] = METRICS.map((m) => m.name);

/** The latest occurrence, kept where a user's last activity is read from. */
export const LAST_OCCURRENCE: Metric = {
  name: 'last_occurred_at',
  type: 'timestamptz',
  fromRecords: 'max(occurred_at)',
  ofRecord: 'occurred_at',
  combine: 'max',
};

interface GrainDefinition {
  /** the time column of a rollup of this grain */
  column: string;
  /** the start of a raw record's unit */
  ofRecord: string;
  /** the start of the unit that holds a finer unit starting at `column`, or null when none is finer */
  ofStart: ((column: string) => string) | null;
  /** the grains a rollup of this grain can be summed from, finest last */
  from: readonly Grain[];
}

/** Every UTC offset is a whole number of 15-minute slots. */
export const SLOT_OF_RECORD = "date_bin('15 minutes', occurred_at, timestamptz '2000-01-01 00:00:00+00')";

/** A UTC quarter of a day (00:00, 06:00, 12:00 or 18:00 UTC) that an instant lies in. */
const quarterStart = (instant: string): string =>
  `date_bin('6 hours', ${instant}, timestamptz '2000-01-01 00:00:00+00')`;

export const GRAINS: Record<Grain, GrainDefinition> = {
  slot: { column: 'slot_start', ofRecord: SLOT_OF_RECORD, ofStart: null, from: [] },
  hour: {
    column: 'bucket_start',
    ofRecord: "date_trunc('hour', occurred_at, 'UTC')",
    ofStart: (column) => `date_trunc('hour', ${column}, 'UTC')`,
    from: [],
  },
  quarter: {
    column: 'quarter_start',
    ofRecord: quarterStart('occurred_at'),
    ofStart: quarterStart,
    from: ['hour'],
  },
  day: {
    column: 'day_start',
    ofRecord: "date_trunc('day', occurred_at, 'UTC')",
    ofStart: (column) => `date_trunc('day', ${column}, 'UTC')`,
    from: ['quarter', 'hour'],
  },
  dekad: {
    column: 'dekad_start',
    ofRecord: dekadStart('occurred_at'),
    ofStart: dekadStart,
    from: ['day', 'quarter', 'hour'],
  },
  month: {
    column: 'month_start',
    ofRecord: "date_trunc('month', occurred_at, 'UTC')",
    ofStart: (column) => `date_trunc('month', ${column}, 'UTC')`,
    from: ['dekad', 'day', 'quarter', 'hour'],
  },
};

/**
 * The start of the UTC dekad an instant lies in: the 1st, 11th or 21st of its month (the last
 * dekad runs to the month's end). Dekads sit between days and months: a range that starts in
 * the middle of a month is a month less up to five days and a dekad, not up to fifteen days.
 * Computed in UTC wall time, whatever the session's zone.
 */
function dekadStart(instant: string): string {
  return `((date_trunc('month', ${instant} AT TIME ZONE 'UTC')
    + make_interval(days => least((extract(day FROM ${instant} AT TIME ZONE 'UTC')::int - 1) / 10, 2) * 10)) AT TIME ZONE 'UTC')`;
}

export interface RollupDefinition {
  table: string;
  grain: Grain;
  dimensions: readonly Dimension[];
  /** the primary key after workspace_id, in index order */
  key: readonly string[];
  /**
   * keeps the latest occurrence (a user's last activity): by day for one user's, looked up
   * through an index by user; by month for every user of a range at once
   */
  keepsLastOccurrence?: boolean;
  /** holds only the months whose raw records are kept; retention drops its rows with them */
  rawWindowOnly?: boolean;
  /**
   * metrics its primary key index carries beside the key (INCLUDE), so that a query needing
   * only these reads them from the index without visiting the table
   */
  carried?: readonly MetricName[];
}

/**
 * What the users page shows of each model of the users on it. The user × model rollups by day
 * and month carry them in their key index: a page's models are ~600 rows a user, and read from
 * the index alone (past rows are all-visible once vacuumed) they cost a quarter less.
 */
export const USERS_PAGE_MODEL_METRICS = ['requests', 'total_tokens'] as const satisfies readonly MetricName[];

/**
 * The rollups, chosen for the questions the Usage tab asks:
 * - by user, provider and model (hour, day, month): one user's or a page of users' models,
 *   filters combining a user with a model, and each user's share when a user is erased;
 * - by user (hour, day, dekad, month): the users table's totals, sorting and paging, active
 *   users, one user's series and their last activity (a local day's edge hours are a row a
 *   user, not a row for every model they called);
 * - by provider and model (hour, day, month): totals and the model distribution;
 * - by provider (hour, UTC quarter of a day, day): provider charts and totals, a twelfth of the
 *   rows of the above per bucket (by month, the provider × model rows are few already); the
 *   quarters (6 hours) keep a local day's edges short where it starts far from UTC midnight: a
 *   day in India is its UTC day less 5½ hours plus 5½ hours of the day before, 3–4 rows a
 *   provider instead of ~11 hourly ones;
 * - by provider per 15 minutes for the raw months: provider charts in half-hour zones.
 */
export const ROLLUPS: readonly RollupDefinition[] = [
  {
    table: 'usage_hourly',
    grain: 'hour',
    dimensions: ['user_id', 'provider', 'model', 'operation'],
    key: ['bucket_start', 'user_id', 'provider', 'model', 'operation'],
  },
  {
    table: 'usage_daily_user_models',
    grain: 'day',
    dimensions: ['user_id', 'provider', 'model', 'operation'],
    key: ['user_id', 'day_start', 'provider', 'model', 'operation'],
    carried: USERS_PAGE_MODEL_METRICS,
  },
  {
    table: 'usage_monthly_user_models',
    grain: 'month',
    dimensions: ['user_id', 'provider', 'model', 'operation'],
    key: ['user_id', 'month_start', 'provider', 'model', 'operation'],
    carried: USERS_PAGE_MODEL_METRICS,
  },
  {
    table: 'usage_hourly_users',
    grain: 'hour',
    dimensions: ['user_id'],
    key: ['bucket_start', 'user_id'],
  },
  {
    table: 'usage_daily_users',
    grain: 'day',
    dimensions: ['user_id'],
    key: ['day_start', 'user_id'],
    keepsLastOccurrence: true,
  },
  { table: 'usage_dekad_users', grain: 'dekad', dimensions: ['user_id'], key: ['dekad_start', 'user_id'] },
  {
    table: 'usage_monthly_users',
    grain: 'month',
    dimensions: ['user_id'],
    key: ['month_start', 'user_id'],
    keepsLastOccurrence: true,
  },
  {
    table: 'usage_hourly_models',
    grain: 'hour',
    dimensions: ['provider', 'model', 'operation'],
    key: ['bucket_start', 'provider', 'model', 'operation'],
  },
  {
    table: 'usage_daily_models',
    grain: 'day',
    dimensions: ['provider', 'model', 'operation'],
    key: ['day_start', 'provider', 'model', 'operation'],
  },
  {
    table: 'usage_monthly_models',
    grain: 'month',
    dimensions: ['provider', 'model', 'operation'],
    key: ['month_start', 'provider', 'model', 'operation'],
  },
  {
    table: 'usage_hourly_providers',
    grain: 'hour',
    dimensions: ['provider'],
    key: ['bucket_start', 'provider'],
  },
  {
    table: 'usage_quarter_providers',
    grain: 'quarter',
    dimensions: ['provider'],
    key: ['quarter_start', 'provider'],
  },
  { table: 'usage_daily_providers', grain: 'day', dimensions: ['provider'], key: ['day_start', 'provider'] },
  {
    table: 'usage_slot_providers',
    grain: 'slot',
    dimensions: ['provider'],
    key: ['slot_start', 'provider'],
    rawWindowOnly: true,
  },
];

/**
 * Sums queued by ingest and not yet folded into the rollups: by hour and 15-minute slot,
 * with every dimension and the latest occurrence. Queries read it as one more hourly source.
 */
export const PENDING = {
  table: 'usage_pending',
  times: [GRAINS.hour.column, GRAINS.slot.column],
  dimensions: ['user_id', 'provider', 'model', 'operation'] as const,
};

export const ALL_DIMENSIONS: readonly Dimension[] = ['user_id', 'provider', 'model', 'operation'];

/** The metric columns a rollup keeps, in table order. */
export function metricsOf(rollup: RollupDefinition): Metric[] {
  return [...METRICS, ...(rollup.keepsLastOccurrence ? [LAST_OCCURRENCE] : [])];
}

/** The columns of a rollup, in table order: workspace, its key, its metrics. */
export function columnsOf(rollup: RollupDefinition): string[] {
  return ['workspace_id', ...rollup.key, ...metricsOf(rollup).map((m) => m.name)];
}

/** Each key column of a rollup with its expression over raw records. */
export function keyFromRecords(rollup: RollupDefinition): Array<[column: string, expression: string]> {
  return rollup.key.map((column) => [
    column,
    column === GRAINS[rollup.grain].column ? GRAINS[rollup.grain].ofRecord : DIMENSIONS[column as Dimension].ofRecord(),
  ]);
}

/**
 * A rollup recomputed from raw records (`source` is a relation with usage_records' columns):
 * what the fold must have produced. Used by the bench's checks and the tests.
 */
export function recomputeFromRecords(rollup: RollupDefinition, source = 'usage_records', where = 'true'): string {
  const keys = keyFromRecords(rollup);
  return `SELECT workspace_id, ${keys.map(([column, expression]) => `${expression} AS ${column}`).join(', ')},
    ${metricsOf(rollup)
      .map((m) => `${m.fromRecords} AS ${m.name}`)
      .join(', ')}
  FROM ${source} WHERE ${where}
  GROUP BY workspace_id, ${keys.map(([, expression]) => expression).join(', ')}`;
}

/**
 * The pending sums of a set of raw records (`source` with usage_records' columns): what
 * ingest queues for the fold. The columns of usage_pending, in its order.
 */
export const PENDING_COLUMNS = [
  'workspace_id',
  ...PENDING.times,
  ...PENDING.dimensions,
  ...ADDITIVE_METRICS,
  LAST_OCCURRENCE.name,
];

export function pendingFromRecords(source: string, workspace = 'workspace_id'): string {
  return `SELECT ${workspace}, ${GRAINS.hour.ofRecord}, ${GRAINS.slot.ofRecord}, ${PENDING.dimensions.map((d) => DIMENSIONS[d].ofRecord()).join(', ')},
    ${[...METRICS, LAST_OCCURRENCE].map((m) => m.fromRecords).join(', ')}
  FROM ${source} GROUP BY 1, 2, 3, ${PENDING.dimensions.map((_, i) => i + 4).join(', ')}`;
}

export function rollupNamed(table: string): RollupDefinition {
  const rollup = ROLLUPS.find((r) => r.table === table);
  if (!rollup) throw new Error(`no rollup named ${table}`);
  return rollup;
}

const GRAIN_ORDER: readonly Grain[] = ['slot', 'hour', 'quarter', 'day', 'dekad', 'month'];

/**
 * Roughly how many values a dimension takes in a workspace: it only orders rollups by the
 * rows they hold (users outnumber models, which outnumber providers).
 */
const CARDINALITY: Record<Dimension, number> = { provider: 10, model: 20, user_id: 1000, operation: 1.1 };
const breadth = (r: RollupDefinition): number => r.dimensions.reduce((n, d) => n * CARDINALITY[d], 1);

/**
 * The rollup that answers for `dimensions` at `grain` with the fewest rows among those that
 * carry all the needed ones.
 */
export function smallestRollup(grain: Exclude<Grain, 'slot'>, dimensions: readonly Dimension[]): RollupDefinition {
  const best = smallestRollupIfAny(grain, dimensions);
  if (!best) throw new Error(`no ${grain} rollup has ${dimensions.join(', ')}`);
  return best;
}

/** As smallestRollup, or undefined where no rollup of that grain carries the dimensions (dekads: users only). */
export function smallestRollupIfAny(
  grain: Exclude<Grain, 'slot'>,
  dimensions: readonly Dimension[],
): RollupDefinition | undefined {
  return ROLLUPS.filter(
    (r) => r.grain === grain && !r.rawWindowOnly && dimensions.every((d) => r.dimensions.includes(d)),
  ).sort((a, b) => breadth(a) - breadth(b))[0];
}

/** Whether `source`'s rows can be summed into `target`'s: every dimension, a grain as fine or finer. */
function summableInto(source: RollupDefinition, target: RollupDefinition): boolean {
  if (source === target || source.rawWindowOnly || target.grain === 'slot') return false;
  const sameGrainMoreDimensions = source.grain === target.grain && source.dimensions.length > target.dimensions.length;
  return (
    (sameGrainMoreDimensions || GRAINS[target.grain].from.includes(source.grain)) &&
    target.dimensions.every((d) => source.dimensions.includes(d))
  );
}

/**
 * The rollups in the order the fold computes their deltas: finest grain first, most
 * dimensions first, so each comes after every rollup it may be summed from.
 */
export const FOLD_ORDER: readonly RollupDefinition[] = [...ROLLUPS].sort(
  (a, b) => GRAIN_ORDER.indexOf(a.grain) - GRAIN_ORDER.indexOf(b.grain) || b.dimensions.length - a.dimensions.length,
);

/**
 * The rollup whose fold delta `rollup`'s delta is summed from — of those it can be summed
 * from, the one with the fewest rows (narrowest dimensions, then coarsest grain) — or null when it is
 * summed from the moved pending rows themselves.
 */
export function foldSourceOf(rollup: RollupDefinition): RollupDefinition | null {
  const candidates = ROLLUPS.filter((r) => summableInto(r, rollup)).sort(
    (a, b) => breadth(a) - breadth(b) || GRAIN_ORDER.indexOf(b.grain) - GRAIN_ORDER.indexOf(a.grain),
  );
  return candidates[0] ?? null;
}
