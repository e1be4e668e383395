import type { Decimal } from '../../domain/decimal';
import type { TokenSource } from '../../domain/usage-record';
import type { UsageWindow } from '../../domain/usage-window';

/** Narrows a query to one provider, model or user; all optional. */
export interface UsageFilter {
  provider?: string;
  model?: string;
  userId?: string;
}

export interface UsageScope {
  workspaceId: string;
  window: UsageWindow;
  filter: UsageFilter;
}

export interface UsageTotals {
  requests: number;
  errors: number;
  inputTokens: number;
  outputTokens: number;
  cachedInputTokens: number;
  cacheWriteTokens: number;
  reasoningTokens: number;
  totalTokens: number;
  durationMsSum: number;
  durationCount: number;
  /** exact sum of the known costs */
  cost: Decimal;
  /** records without a known cost, not counted in `cost` */
  unpricedRequests: number;
  /** the tokens of those records */
  unpricedTokens: number;
}

export interface ModelUsage extends UsageTotals {
  provider: string;
  model: string;
}

/** A model whose records in a range have no known cost. */
export interface UnpricedModel {
  provider: string;
  model: string;
  /** unpriced records and their tokens */
  requests: number;
  tokens: number;
  /** the UTC hours (their starts) of the first and the last unpriced record */
  firstSeenHour: Date;
  lastSeenHour: Date;
}

export interface ProviderUsage extends UsageTotals {
  provider: string;
}

/** What a chart draws per bucket: requests, tokens and cost, with how many were unpriced. */
export type ChartSums = Pick<
  UsageTotals,
  'requests' | 'inputTokens' | 'outputTokens' | 'totalTokens' | 'cost' | 'unpricedRequests'
>;

export interface BucketUsage extends ChartSums {
  bucketStart: Date;
}

export interface ProviderBucketUsage extends BucketUsage {
  provider: string;
}

export type UserSort = 'totalTokens' | 'cost' | 'requests' | 'lastActiveAt' | 'userId' | 'usagePercentage';

export interface UserListQuery {
  search?: string;
  sort: UserSort;
  order: 'asc' | 'desc';
  /** active: used since `activeSince` */
  status?: 'active' | 'inactive';
  activeSince: Date;
  /** now: each user's usage percentage is of the quota period holding it (the month in the workspace's zone) */
  quotaAt: Date;
  limit: number;
  offset: number;
  /** each user's models with the most tokens, at most this many; every model when absent */
  modelsPerUser?: number;
}

/** One row of the users list: what it shows and sorts by. */
export interface UserUsage extends Pick<UsageTotals, 'requests' | 'totalTokens' | 'cost' | 'unpricedRequests'> {
  userId: string;
  /** the user's latest record at any time */
  lastActiveAt: Date;
  models: Array<Pick<ModelUsage, 'provider' | 'model' | 'requests' | 'totalTokens'>>;
  /** the user's plan (null only while the workspace has no plans yet) */
  plan: { id: string; name: string } | null;
  /** of the current quota period: the higher of tokens and cost used against their limits; null when unlimited */
  usagePercentage: number | null;
}

export interface UsageRecordView {
  requestId: string;
  occurredAt: Date;
  userId: string;
  provider: string;
  model: string;
  operation: string | null;
  inputTokens: number;
  outputTokens: number;
  cachedInputTokens: number;
  reasoningTokens: number;
  totalTokens: number;
  durationMs: number | null;
  success: boolean;
  error: string | null;
  cost: Decimal | null;
  costStatus: 'computed' | 'provided' | 'unpriced';
  tokenSource: TokenSource;
}

export interface OperationUsage {
  /** null where the records did not say */
  operation: string | null;
  requests: number;
  totalTokens: number;
  errors: number;
}

/** A range's totals and its breakdowns, read together in one pass over the rollups. */
export interface UsageSummary {
  totals: UsageTotals;
  /** the most tokens first */
  providers: ProviderUsage[];
  /** the most tokens first */
  models: ModelUsage[];
  /** the most requests first */
  operations: OperationUsage[];
}

/** Read side of usage: SQL aggregates over the rollups, never raw rows summed in Node. */
export interface UsageQueries {
  /**
   * Runs `work` with every read it makes through this port seeing the usage as of one moment:
   * the parts of one answer agree with each other while records arrive.
   */
  inOneSnapshot<T>(work: () => Promise<T>): Promise<T>;
  totals(scope: UsageScope): Promise<UsageTotals>;
  /** the totals from each start to the scope's end, in the order of `starts`, read in one pass */
  totalsFrom(scope: UsageScope, starts: readonly Date[]): Promise<UsageTotals[]>;
  activeUsers(scope: UsageScope): Promise<number>;
  byModel(scope: UsageScope): Promise<ModelUsage[]>;
  byProvider(scope: UsageScope): Promise<ProviderUsage[]>;
  /** totals, providers, models and operations (chat, embeddings, …) of a scope at once */
  summary(scope: UsageScope): Promise<UsageSummary>;
  /** every bucket of the window, zero-filled */
  series(scope: UsageScope): Promise<BucketUsage[]>;
  /** every bucket of the window for each provider with usage in it, zero-filled */
  seriesByProvider(scope: UsageScope): Promise<ProviderBucketUsage[]>;
  users(scope: UsageScope, query: UserListQuery): Promise<{ items: UserUsage[]; total: number }>;
  /** the user's latest record at any time, null if the workspace has none of theirs */
  lastActiveAt(workspaceId: string, userId: string): Promise<Date | null>;
  recent(scope: UsageScope, limit: number): Promise<UsageRecordView[]>;
  /** the models with unpriced records in the range, the most recently seen first */
  unpricedModels(scope: UsageScope): Promise<UnpricedModel[]>;
}
