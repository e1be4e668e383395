import { inject, injectable } from 'tsyringe';
import type { Clock } from '../../application/ports/clock.port';
import { TOKENS } from '../../application/ports/tokens';
import type {
  BucketUsage,
  ChartSums,
  ModelUsage,
  ProviderBucketUsage,
  ProviderUsage,
  UnpricedModel,
  UsageQueries,
  UsageRecordView,
  UsageScope,
  UsageSummary,
  UsageTotals,
  UserListQuery,
  UserSort,
  UserUsage,
} from '../../application/ports/usage-queries.port';
import { Decimal } from '../../domain/decimal';
import { PAST_ZERO_LIMIT_PERCENTAGE } from '../../domain/plan';
import { DIMENSIONS, GRAINS, PENDING, ROLLUPS, USERS_PAGE_MODEL_METRICS } from './rollup-registry';
import { quotaPeriodStartSql, workspaceZoneSql } from './quota-counting';
import {
  bucketSeries,
  factsSource,
  SqlParams,
  sumsOf,
  TOTALS,
  TOTALS_COLUMNS,
  type FactsNeeds,
  type TotalsColumn,
} from './usage-facts';
import { UsageStatements } from './usage-statements';

type TotalsRow = Record<TotalsColumn, string>;

const ZERO_TOTALS = Object.fromEntries(TOTALS_COLUMNS.map((column) => [column, '0'])) as TotalsRow;

/** A row of the summary: which sums it is (1 where a dimension is summed over) and its keys. */
type SummaryRow = Record<'all_providers' | 'all_models' | 'all_operations', number> & {
  provider: string | null;
  model: string | null;
  operation: string | null;
};

/** A model of a page's user: the most tokens first, then the most calls, then by name. */
type PageModel = UserUsage['models'][number];
const byUsageThenName = (a: PageModel, b: PageModel): number =>
  b.totalTokens - a.totalTokens ||
  b.requests - a.requests ||
  byCodePoints(a.provider, b.provider) ||
  byCodePoints(a.model, b.model);

/** Text order by Unicode code points, as PostgreSQL's "C" collation orders UTF-8 text. */
function byCodePoints(a: string, b: string): number {
  if (a === b) return 0;
  const x = [...a];
  const y = [...b];
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    if (x[i] !== y[i]) return x[i]!.codePointAt(0)! - y[i]!.codePointAt(0)!;
  }
  return x.length - y.length;
}

function toTotals(row: TotalsRow): UsageTotals {
  return {
    requests: Number(row.requests),
    errors: Number(row.errors),
    inputTokens: Number(row.input_tokens),
    outputTokens: Number(row.output_tokens),
    cachedInputTokens: Number(row.cached_input_tokens),
    cacheWriteTokens: Number(row.cache_write_tokens),
    reasoningTokens: Number(row.reasoning_tokens),
    totalTokens: Number(row.total_tokens),
    durationMsSum: Number(row.duration_ms_sum),
    durationCount: Number(row.duration_count),
    cost: Decimal.parse(row.cost),
    unpricedRequests: Number(row.unpriced_requests),
    unpricedTokens: Number(row.unpriced_tokens),
  };
}

type ChartRow = Record<'requests' | 'input_tokens' | 'output_tokens' | 'total_tokens' | 'unpriced_requests', string> & {
  cost: string;
};

/** The metrics a chart shows: summing only these keeps a long zero-filled series cheap. */
const CHART_METRICS = [
  'requests',
  'input_tokens',
  'output_tokens',
  'total_tokens',
  'cost',
  'unpriced_requests',
] as const;
const CHART_SUMS = sumsOf(CHART_METRICS);

/** What the users page shows of each user's range. */
const USERS_PAGE_SUMS = ['requests', 'total_tokens', 'cost', 'unpriced_requests'] as const;

function toChartSums(row: ChartRow): ChartSums {
  return {
    requests: Number(row.requests),
    inputTokens: Number(row.input_tokens),
    outputTokens: Number(row.output_tokens),
    totalTokens: Number(row.total_tokens),
    cost: Decimal.parse(row.cost),
    unpricedRequests: Number(row.unpriced_requests),
  };
}

/**
 * Orders by the largest first, ties broken by name so pages are stable. A cost is unknown
 * (answered null, sorted last) where every call of the user is unpriced.
 */
const SORT_COLUMNS: Record<UserSort, string> = {
  totalTokens: 'total_tokens',
  cost: 'CASE WHEN unpriced_requests <> requests THEN cost END',
  requests: 'requests',
  lastActiveAt: 'last_active_at',
  userId: 'user_id',
  usagePercentage: 'usage_percentage',
};

/** Percent of a limit used, truncated to hundredths, as the quota answers it (domain/plan.ts); null when unlimited. */
const percentOf = (used: string, limit: string) =>
  `CASE WHEN ${limit} > 0 THEN trunc(${used} * 100.0 / ${limit}, 2)
        WHEN ${limit} = 0 THEN CASE WHEN ${used} > 0 THEN ${PAST_ZERO_LIMIT_PERCENTAGE} ELSE 0 END END`;

/**
 * Each user's plan and how much of it they used in the quota period that starts at
 * \`period\`: the higher of their token and cost percentages. \`from\` names the users (their
 * id is \`user\`).
 */
function quotaOfUsers(workspace: string, from: string, user: string, period: string): string {
  return `SELECT ${user} AS quota_user, pl.id AS plan_id, pl.name AS plan_name,
      greatest(${percentOf('coalesce(q.tokens, 0)', 'lim.token_limit')}, ${percentOf('coalesce(q.cost, 0)', 'lim.cost_limit')})
        AS usage_percentage
    FROM ${from}
    LEFT JOIN user_plans up ON up.workspace_id = ${workspace} AND up.user_id = ${user}
    JOIN plans pl ON pl.workspace_id = ${workspace} AND (pl.id = up.plan_id OR (up.plan_id IS NULL AND pl.is_default))
    CROSS JOIN LATERAL (SELECT
      CASE WHEN up.overrides_tokens THEN up.monthly_token_limit ELSE pl.monthly_token_limit END AS token_limit,
      CASE WHEN up.overrides_cost THEN up.monthly_cost_limit ELSE pl.monthly_cost_limit END AS cost_limit) lim
    LEFT JOIN quota_usage q ON q.workspace_id = ${workspace} AND q.user_id = ${user} AND q.period_start = ${period}`;
}

/** The quota of one user (\`user\`, a column of the row joined to): a lateral join, for a page's few users. */
function quotaOf(workspace: string, user: string, period: string): string {
  return `LEFT JOIN LATERAL (${quotaOfUsers(workspace, '(SELECT 1) one', user, period)}) quota ON true`;
}

/**
 * The quota of every user of the relation \`users\`, joined to \`user\` at once: for a list
 * sorted by usage percentage. One lateral lookup per user took ~8 of ~42 ms for 1,000 users.
 */
function quotaOfEvery(workspace: string, users: string, user: string, period: string): string {
  return `LEFT JOIN (${quotaOfUsers(workspace, `${users} each_user`, 'each_user.user_id', period)}) quota
    ON quota.quota_user = ${user}`;
}

/** The rollups that keep a user's latest occurrence: by day (an index by user) and by month. */
const lastKept = (grain: 'day' | 'month') =>
  ROLLUPS.find((r) => r.keepsLastOccurrence && r.grain === grain && r.dimensions.includes('user_id'))!;
const LAST_BY_DAY = lastKept('day');
const LAST_BY_MONTH = lastKept('month');

/**
 * What a page's users' pending rows are summed by: what the reads of pending usage select and
 * test. A backlog queues a row per batch for the same key; summed, each user's reads walk fewer.
 */
const PAGE_PENDING_KEY = ['workspace_id', ...PENDING.times, ...PENDING.dimensions].join(', ');

/** One user's (\`user\`, a column or parameter) latest occurrence folded: their latest daily row's. */
function lastFolded(ws: string, user: string): string {
  const time = GRAINS[LAST_BY_DAY.grain].column;
  return `(SELECT d.last_occurred_at FROM ${LAST_BY_DAY.table} d WHERE d.workspace_id = ${ws} AND d.user_id = ${user}
     ORDER BY d.${time} DESC LIMIT 1)`;
}

/** One user's last activity: folded, or usage not folded yet. */
function lastActivity(ws: string, user: string): string {
  return `greatest(${lastFolded(ws, user)},
    (SELECT max(q.last_occurred_at) FROM ${PENDING.table} q WHERE q.workspace_id = ${ws} AND q.user_id = ${user}))`;
}

/**
 * The last activity of every user active since \`since\`, joined as \`alias\`.last_active_at on
 * \`user\`: their latest occurrence lies in the months from \`since\`'s on, or is pending. Reading
 * those months' rows and the workspace's pending rows once for all users beat looking each
 * user up (~3 against ~16 ms for 1,000 users over 90 days).
 */
function lastActivityOfEvery(ws: string, since: string, user: string, alias: string): string {
  const time = GRAINS[LAST_BY_MONTH.grain].column;
  return `LEFT JOIN (
    SELECT user_id, max(last_occurred_at) AS last_active_at FROM (
      SELECT user_id, last_occurred_at FROM ${LAST_BY_MONTH.table}
      WHERE workspace_id = ${ws} AND ${time} >= date_trunc('month', ${since}, 'UTC')
      UNION ALL
      SELECT user_id, last_occurred_at FROM ${PENDING.table} WHERE workspace_id = ${ws}) l
    GROUP BY user_id) ${alias} ON ${alias}.user_id = ${user}`;
}

@injectable()
export class PgUsageQueries implements UsageQueries {
  constructor(
    @inject(UsageStatements) private readonly statements: UsageStatements,
    @inject(TOKENS.Clock) private readonly clock: Clock,
  ) {}

  /** The Usage tab reports the totals' metrics, not those the rollups keep for re-pricing. */
  private facts(scope: UsageScope, params: SqlParams, needs: FactsNeeds = {}): string {
    return factsSource(scope, params, { metrics: TOTALS_COLUMNS, ...needs }, this.clock.now());
  }

  inOneSnapshot<T>(work: () => Promise<T>): Promise<T> {
    return this.statements.inOneSnapshot(work);
  }

  private async rows<T>(sql: string, params: SqlParams): Promise<T[]> {
    return (await this.statements.query(sql, params.values)) as T[];
  }

  async totals(scope: UsageScope): Promise<UsageTotals> {
    const p = new SqlParams();
    const [row] = await this.rows<TotalsRow>(`SELECT ${TOTALS} FROM (${this.facts(scope, p)}) f`, p);
    return toTotals(row!);
  }

  async totalsFrom(scope: UsageScope, starts: readonly Date[]): Promise<UsageTotals[]> {
    const cuts = [...new Set(starts.map((start) => start.getTime()))].sort((a, b) => a - b).map((t) => new Date(t));
    if (cuts.length === 0) return [];
    const p = new SqlParams();
    const facts = this.facts({ ...scope, window: { ...scope.window, from: cuts[0]! } }, p, { cuts });
    // the facts summed per cut once, then each range as the cuts at or after its start
    const rows = await this.rows<TotalsRow>(
      `WITH f AS MATERIALIZED (
         SELECT bucket_start, ${sumsOf(TOTALS_COLUMNS)} FROM (${facts}) x GROUP BY bucket_start)
       SELECT ${TOTALS}
       FROM unnest(${p.add(starts.map((start) => start.toISOString()))}::timestamptz[]) WITH ORDINALITY AS s(start, i)
       LEFT JOIN f ON f.bucket_start >= s.start
       GROUP BY s.i ORDER BY s.i`,
      p,
    );
    return rows.map(toTotals);
  }

  async activeUsers(scope: UsageScope): Promise<number> {
    const p = new SqlParams();
    const [row] = await this.rows<{ n: number }>(
      // grouping hashes where count(DISTINCT) would sort; facts are signed: a user whose rows
      // cancel out has no request in the range
      `SELECT count(*)::int AS n FROM (SELECT user_id FROM (${this.facts(scope, p, { user: true, metrics: ['requests'] })}) f
         GROUP BY user_id HAVING sum(requests) <> 0) u`,
      p,
    );
    return row!.n;
  }

  async byModel(scope: UsageScope): Promise<ModelUsage[]> {
    const p = new SqlParams();
    const rows = await this.rows<TotalsRow & { provider: string; model: string }>(
      `SELECT provider, model, ${TOTALS} FROM (${this.facts(scope, p, { model: true })}) f
       GROUP BY provider, model HAVING sum(requests) <> 0 ORDER BY total_tokens DESC, requests DESC, provider, model`,
      p,
    );
    return rows.map((row) => ({ provider: row.provider, model: row.model, ...toTotals(row) }));
  }

  async byProvider(scope: UsageScope): Promise<ProviderUsage[]> {
    const p = new SqlParams();
    const rows = await this.rows<TotalsRow & { provider: string }>(
      `SELECT provider, ${TOTALS} FROM (${this.facts(scope, p, { provider: true })}) f
       GROUP BY provider HAVING sum(requests) <> 0 ORDER BY total_tokens DESC, requests DESC, provider`,
      p,
    );
    return rows.map((row) => ({ provider: row.provider, ...toTotals(row) }));
  }

  async summary(scope: UsageScope): Promise<UsageSummary> {
    const p = new SqlParams();
    // one read of the facts, summed four ways: what would otherwise be four statements, each
    // planned and each reading the same rollup rows
    const rows = await this.rows<TotalsRow & SummaryRow>(
      `SELECT grouping(provider) AS all_providers, grouping(model) AS all_models, grouping(operation) AS all_operations,
         provider, model, ${DIMENSIONS.operation.read} AS operation, ${TOTALS}
       FROM (${this.facts(scope, p, { model: true, operation: true })}) f
       GROUP BY GROUPING SETS ((provider, model), (provider), (operation), ())
       HAVING sum(requests) <> 0 OR grouping(provider, operation) = 3
       ORDER BY grouping(provider, model, operation),
         CASE WHEN grouping(operation) = 1 THEN sum(total_tokens) END DESC, sum(requests) DESC,
         provider, model, operation = '', operation`,
      p,
    );
    const summary: UsageSummary = { totals: toTotals(ZERO_TOTALS), providers: [], models: [], operations: [] };
    for (const row of rows) {
      const totals = toTotals(row);
      if (row.all_operations === 0) {
        summary.operations.push({
          operation: row.operation,
          requests: totals.requests,
          totalTokens: totals.totalTokens,
          errors: totals.errors,
        });
      } else if (row.all_providers === 1) summary.totals = totals;
      else if (row.all_models === 1) summary.providers.push({ provider: row.provider!, ...totals });
      else summary.models.push({ provider: row.provider!, model: row.model!, ...totals });
    }
    return summary;
  }

  async series(scope: UsageScope): Promise<BucketUsage[]> {
    const p = new SqlParams();
    const facts = this.facts(scope, p, { bucketed: true, metrics: CHART_METRICS });
    const rows = await this.rows<ChartRow & { bucket_start: Date }>(
      `WITH buckets AS (${bucketSeries(scope, p)}),
            agg AS (SELECT bucket_start, ${CHART_SUMS} FROM (${facts}) f GROUP BY 1)
       SELECT b.bucket_start, ${zeroFilled('a')} FROM buckets b LEFT JOIN agg a USING (bucket_start)
       ORDER BY b.bucket_start`,
      p,
    );
    return rows.map((row) => ({ bucketStart: row.bucket_start, ...toChartSums(row) }));
  }

  async seriesByProvider(scope: UsageScope): Promise<ProviderBucketUsage[]> {
    const p = new SqlParams();
    const facts = this.facts(scope, p, { provider: true, bucketed: true, metrics: CHART_METRICS });
    const rows = await this.rows<ChartRow & { bucket_start: Date; provider: string }>(
      `WITH buckets AS (${bucketSeries(scope, p)}),
            agg AS MATERIALIZED (SELECT bucket_start, provider, ${CHART_SUMS} FROM (${facts}) f
                                 GROUP BY 1, 2 HAVING sum(requests) <> 0)
       SELECT b.bucket_start, pr.provider, ${zeroFilled('a')}
       FROM buckets b CROSS JOIN (SELECT DISTINCT provider FROM agg) pr
       LEFT JOIN agg a ON a.bucket_start = b.bucket_start AND a.provider = pr.provider
       ORDER BY b.bucket_start, pr.provider`,
      p,
    );
    return rows.map((row) => ({ bucketStart: row.bucket_start, provider: row.provider, ...toChartSums(row) }));
  }

  async users(scope: UsageScope, query: UserListQuery): Promise<{ items: UserUsage[]; total: number }> {
    const p = new SqlParams();
    const ws = p.add(scope.workspaceId);
    const search =
      query.search === undefined
        ? undefined
        : `user_id ILIKE '%' || ${p.add(query.search.replace(/[\\%_]/g, (c) => `\\${c}`))} || '%'`;
    const perUserFacts = this.facts(scope, p, {
      user: true,
      where: search,
      whereDimensions: ['user_id'],
      metrics: USERS_PAGE_SUMS,
    });
    // read for every user only where the list is filtered or sorted by it, else for the page's
    const lastForAll = query.status !== undefined || query.sort === 'lastActiveAt';
    // and the plan and usage percentage likewise, only where the list is sorted by it
    const quotaForAll = query.sort === 'usagePercentage';
    // the period's start computed where it is used: no round trip for the workspace's zone
    const period = quotaPeriodStartSql(`${p.add(query.quotaAt.toISOString())}::timestamptz`, workspaceZoneSql(ws));
    const status =
      query.status === undefined
        ? ''
        : `WHERE last_active_at ${query.status === 'active' ? '>=' : '<'} ${p.add(query.activeSince.toISOString())}`;
    const order = `${SORT_COLUMNS[query.sort]} ${query.order === 'asc' ? 'ASC' : 'DESC'} NULLS LAST, user_id ${query.order === 'asc' ? 'ASC' : 'DESC'}`;
    const limit = p.add(query.limit);
    const offset = p.add(query.offset);
    // models are looked up for the users of the page only, one user at a time through the
    // user × model rollups' keys, which carry what the page shows of them; their usage still
    // pending is read once for all of them (under ingest each user's read walked every
    // pending row of the workspace)
    const pageModels =
      query.modelsPerUser === 0
        ? ''
        : `UNION ALL
       -- each model a row of its own, in no order: as JSON, ordered, the page's 2,400 models
       -- took ~5 ms more of the statement and more of the service's time to read
       SELECT pu.user_id, m.requests, m.total_tokens, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, m.provider, m.model
       FROM page pu CROSS JOIN LATERAL (
         SELECT provider, model, sum(requests)::bigint AS requests, sum(total_tokens)::bigint AS total_tokens
         FROM (${this.facts(scope, p, {
           user: true,
           model: true,
           where: 'user_id = pu.user_id',
           metrics: USERS_PAGE_MODEL_METRICS,
           pendingFrom: 'page_pending',
         })}) f GROUP BY provider, model HAVING sum(requests) <> 0
       ) m`;
    const rows = await this.rows<
      Record<(typeof USERS_PAGE_SUMS)[number], string> & {
        user_id: string;
        last_active_at: Date;
        total: number;
        position: number | null;
        provider: string | null;
        model: string | null;
        plan_id: string | null;
        plan_name: string | null;
        usage_percentage: string | null;
      }
    >(
      `WITH per_user AS (
         SELECT user_id, ${sumsOf(USERS_PAGE_SUMS)}
         FROM (${perUserFacts}) f GROUP BY user_id HAVING sum(requests) <> 0
       ),
       filtered AS (
         SELECT * FROM (SELECT u.*, ${lastForAll ? 'every_last.last_active_at' : 'NULL::timestamptz AS last_active_at'},
                          ${quotaForAll ? 'quota.plan_id, quota.plan_name, quota.usage_percentage' : 'NULL::uuid AS plan_id, NULL::text AS plan_name, NULL::numeric AS usage_percentage'}
                        FROM per_user u ${lastForAll ? lastActivityOfEvery(ws, `${p.add(scope.window.from.toISOString())}::timestamptz`, 'u.user_id', 'every_last') : ''}
                          ${quotaForAll ? quotaOfEvery(ws, 'per_user', 'u.user_id', period) : ''}) x ${status}
       ),
       page AS MATERIALIZED (
         SELECT *, count(*) OVER ()::int AS total FROM filtered ORDER BY ${order} LIMIT ${limit} OFFSET ${offset}
       ),
       page_pending AS MATERIALIZED (
         SELECT ${PAGE_PENDING_KEY}, ${sumsOf(USERS_PAGE_MODEL_METRICS)}, max(last_occurred_at) AS last_occurred_at
         FROM ${PENDING.table} WHERE workspace_id = ${ws} AND user_id IN (SELECT user_id FROM page)
         GROUP BY ${PAGE_PENDING_KEY}
       )
       SELECT r.*, row_number() OVER (ORDER BY ${order})::int AS position, NULL::text AS provider, NULL::text AS model
       FROM (
         SELECT page.user_id, page.requests, page.total_tokens, page.cost, page.unpriced_requests, page.total,
           ${lastForAll ? 'page.last_active_at' : `greatest(${lastFolded(ws, 'page.user_id')}, last_pending.last_occurred_at)`} AS last_active_at,
           ${quotaForAll ? 'page.plan_id, page.plan_name, page.usage_percentage' : 'quota.plan_id, quota.plan_name, quota.usage_percentage'}
         FROM page
           ${lastForAll ? '' : `LEFT JOIN (SELECT user_id, max(last_occurred_at) AS last_occurred_at FROM page_pending GROUP BY user_id) last_pending ON last_pending.user_id = page.user_id`}
           ${quotaForAll ? '' : quotaOf(ws, 'page.user_id', period)}) r
       ${pageModels}`,
      p,
    );
    // a user's row has no provider; a model's row has only its user, sums and names
    const users = rows.filter((row) => row.provider === null).sort((a, b) => a.position! - b.position!);
    const modelsOf = new Map<string, PageModel[]>();
    for (const row of rows) {
      if (row.provider === null) continue;
      let models = modelsOf.get(row.user_id);
      if (!models) modelsOf.set(row.user_id, (models = []));
      models.push({
        provider: row.provider,
        model: row.model!,
        requests: Number(row.requests),
        totalTokens: Number(row.total_tokens),
      });
    }
    let total = users[0]?.total;
    if (total === undefined) {
      // an empty page past the end still reports how many users match
      total =
        query.offset > 0 ? (await this.users(scope, { ...query, offset: 0, limit: 1, modelsPerUser: 0 })).total : 0;
    }
    return {
      total,
      items: users.map((row) => ({
        userId: row.user_id,
        lastActiveAt: new Date(row.last_active_at),
        requests: Number(row.requests),
        totalTokens: Number(row.total_tokens),
        cost: Decimal.parse(row.cost),
        unpricedRequests: Number(row.unpriced_requests),
        plan: row.plan_id === null ? null : { id: row.plan_id, name: row.plan_name! },
        usagePercentage: row.usage_percentage === null ? null : Number(row.usage_percentage),
        models: (modelsOf.get(row.user_id) ?? []).sort(byUsageThenName).slice(0, query.modelsPerUser),
      })),
    };
  }

  async lastActiveAt(workspaceId: string, userId: string): Promise<Date | null> {
    const rows = (await this.statements.query(`SELECT ${lastActivity('$1', '$2')} AS last_occurred_at`, [
      workspaceId,
      userId,
    ])) as Array<{ last_occurred_at: Date }>;
    return rows[0]?.last_occurred_at ?? null;
  }

  async unpricedModels(scope: UsageScope): Promise<UnpricedModel[]> {
    const p = new SqlParams();
    // the facts by UTC hour: whole hours from the hourly rollup and what is pending for it, a
    // partial hour at either end from its records in the range (as every Usage tab figure), so
    // the counts are exact and the first and last hours are those of the range's own records
    const hourly = { ...scope, window: { ...scope.window, timeZone: 'UTC', granularity: 'hour' as const } };
    const facts = this.facts(hourly, p, {
      model: true,
      bucketed: true,
      metrics: ['unpriced_requests', 'unpriced_tokens'],
    });
    const rows = await this.rows<{
      provider: string;
      model: string;
      requests: string;
      tokens: string;
      first_seen: Date;
      last_seen: Date;
    }>(
      `WITH hours AS (
         SELECT provider, model, bucket_start, sum(unpriced_requests) AS requests, sum(unpriced_tokens) AS tokens
         FROM (${facts}) f GROUP BY provider, model, bucket_start HAVING sum(unpriced_requests) <> 0)
       SELECT provider, model, sum(requests)::bigint AS requests, sum(tokens)::bigint AS tokens,
         min(bucket_start) AS first_seen, max(bucket_start) AS last_seen
       FROM hours GROUP BY provider, model
       ORDER BY last_seen DESC, requests DESC, provider, model`,
      p,
    );
    return rows.map((row) => ({
      provider: row.provider,
      model: row.model,
      requests: Number(row.requests),
      tokens: Number(row.tokens),
      firstSeenHour: row.first_seen,
      lastSeenHour: row.last_seen,
    }));
  }

  async recent(scope: UsageScope, limit: number): Promise<UsageRecordView[]> {
    const { provider, model, userId } = scope.filter;
    const rows = (await this.statements.query(
      `SELECT request_id, occurred_at, user_id, provider, model, operation, input_tokens, output_tokens,
              cached_input_tokens, reasoning_tokens, total_tokens, duration_ms, success, error, cost::text AS cost, cost_status,
              token_source
       FROM usage_records
       WHERE workspace_id = $1 AND occurred_at >= $2 AND occurred_at < $3
         AND ($4::text IS NULL OR provider = $4) AND ($5::text IS NULL OR model = $5) AND ($6::text IS NULL OR user_id = $6)
       ORDER BY occurred_at DESC, request_id DESC LIMIT $7`,
      [
        scope.workspaceId,
        scope.window.from.toISOString(),
        scope.window.to.toISOString(),
        provider?.toLowerCase() ?? null,
        model?.toLowerCase() ?? null,
        userId ?? null,
        limit,
      ],
    )) as Array<Record<string, unknown>>;
    return rows.map((row) => ({
      requestId: row.request_id as string,
      occurredAt: row.occurred_at as Date,
      userId: row.user_id as string,
      provider: row.provider as string,
      model: row.model as string,
      operation: row.operation as string | null,
      inputTokens: Number(row.input_tokens),
      outputTokens: Number(row.output_tokens),
      cachedInputTokens: Number(row.cached_input_tokens),
      reasoningTokens: Number(row.reasoning_tokens),
      totalTokens: Number(row.total_tokens),
      durationMs: row.duration_ms as number | null,
      success: row.success as boolean,
      error: row.error as string | null,
      cost: row.cost === null ? null : Decimal.parse(row.cost as string),
      costStatus: row.cost_status as UsageRecordView['costStatus'],
      tokenSource: row.token_source as UsageRecordView['tokenSource'],
    }));
  }
}

/** The chart columns of a LEFT JOINed aggregate, zero where the bucket had no usage. */
function zeroFilled(alias: string): string {
  return CHART_METRICS.map((c) => `coalesce(${alias}.${c}, 0) AS ${c}`).join(', ');
}
