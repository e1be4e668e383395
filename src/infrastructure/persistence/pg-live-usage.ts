import { inject, injectable } from 'tsyringe';
import { DataSource } from 'typeorm';
import type { LiveHour, LiveUsage, ServiceStatus } from '../../application/ports/live-usage.port';
import type { OperationUsage } from '../../application/ports/usage-queries.port';

const MINUTE_MS = 60_000;

/**
 * The last hour straight from usage_records: the primary key (workspace_id, occurred_at, …)
 * finds its rows in the current month's partition (and the previous one for an hour across a
 * month's start), so what was acknowledged a moment ago is in the answer.
 */
const LAST_HOUR = `
WITH recent AS MATERIALIZED (
  SELECT occurred_at, user_id, operation, total_tokens, success, duration_ms
  FROM usage_records WHERE workspace_id = $1 AND occurred_at >= $2 AND occurred_at < $3
),
per_minute AS (
  SELECT date_bin('1 minute', occurred_at, $2::timestamptz) AS minute_start, count(*) AS requests,
    sum(total_tokens) AS total_tokens, count(*) FILTER (WHERE NOT success) AS errors,
    coalesce(sum(duration_ms), 0) AS duration_ms_sum, count(duration_ms) AS duration_count,
    count(*) FILTER (WHERE occurred_at >= $4) AS last_minute
  FROM recent GROUP BY 1
),
ops AS (
  SELECT operation, count(*) AS requests, sum(total_tokens) AS total_tokens,
    count(*) FILTER (WHERE NOT success) AS errors
  FROM recent GROUP BY operation
)
SELECT
  (SELECT json_agg(json_build_object('minute_start', m, 'requests', coalesce(p.requests, 0),
     'total_tokens', coalesce(p.total_tokens, 0), 'errors', coalesce(p.errors, 0),
     'duration_ms_sum', coalesce(p.duration_ms_sum, 0), 'duration_count', coalesce(p.duration_count, 0)) ORDER BY m)
   FROM generate_series($2::timestamptz, $3::timestamptz - interval '1 minute', interval '1 minute') m
   LEFT JOIN per_minute p ON p.minute_start = m) AS minutes,
  (SELECT coalesce(json_agg(ops ORDER BY requests DESC, operation NULLS LAST), '[]') FROM ops) AS operations,
  -- grouped, not count(DISTINCT): a hash instead of a sort of the hour's user ids
  (SELECT count(*) FROM (SELECT user_id FROM recent GROUP BY user_id) u) AS active_users,
  -- the hour's figures from the minutes': one pass over the records
  t.*
FROM (SELECT coalesce(sum(last_minute), 0) AS last_minute, coalesce(sum(requests), 0) AS requests,
        coalesce(sum(errors), 0) AS errors, coalesce(sum(duration_ms_sum), 0) AS duration_ms_sum,
        coalesce(sum(duration_count), 0) AS duration_count
      FROM per_minute) t`;

/**
 * Received in the last minute (the database's clock, which stamps received_at), among the
 * records that occurred within the hour: the primary key bounds the scan (a backfill of older
 * records is not counted).
 */
const STATUS = `
SELECT
  (SELECT count(*) FROM usage_records
   WHERE workspace_id = $1 AND occurred_at >= $2 AND received_at >= now() - interval '1 minute') AS acknowledged,
  (SELECT count(*) FROM usage_pending) AS backlog,
  (SELECT min(last_occurred_at) FROM usage_pending) AS backlog_oldest,
  pg_database_size(current_database()) AS database_bytes,
  (SELECT json_build_object('name', name, 'from', lower_bound) FROM (
     SELECT c.relname AS name,
       (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'FROM \\(''([^'']+)''\\)'))[1]::timestamptz AS lower_bound
     FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
     WHERE i.inhparent = 'usage_records'::regclass AND NOT i.inhdetachpending
   ) p WHERE lower_bound IS NOT NULL ORDER BY lower_bound LIMIT 1) AS oldest_partition,
  (SELECT count(*) FROM webhook_deliveries WHERE workspace_id = $1 AND status = 'pending') AS webhook_pending,
  (SELECT min(e.created_at) FROM webhook_deliveries d
   JOIN webhook_events e ON e.workspace_id = d.workspace_id AND e.id = d.event_id
   WHERE d.workspace_id = $1 AND d.status = 'pending') AS webhook_oldest`;

type Numeric = string | number;

@injectable()
export class PgLiveUsage implements LiveUsage {
  constructor(@inject(DataSource) private readonly db: DataSource) {}

  async lastHour(workspaceId: string, now: Date): Promise<LiveHour> {
    const to = new Date(Math.floor(now.getTime() / MINUTE_MS) * MINUTE_MS + MINUTE_MS);
    const from = new Date(to.getTime() - 60 * MINUTE_MS);
    const lastMinute = new Date(now.getTime() - MINUTE_MS);
    const [row] = (await this.db.query(LAST_HOUR, [
      workspaceId,
      from.toISOString(),
      to.toISOString(),
      lastMinute.toISOString(),
    ])) as Array<
      {
        minutes: Array<Record<string, Numeric>>;
        operations: Array<{ operation: string | null } & Record<'requests' | 'total_tokens' | 'errors', Numeric>>;
      } & Record<'active_users' | 'last_minute' | 'requests' | 'errors' | 'duration_ms_sum' | 'duration_count', Numeric>
    >;
    return {
      from,
      to,
      minutes: row!.minutes.map((m) => ({
        minuteStart: new Date(m.minute_start as string),
        requests: Number(m.requests),
        totalTokens: Number(m.total_tokens),
        errors: Number(m.errors),
        durationMsSum: Number(m.duration_ms_sum),
        durationCount: Number(m.duration_count),
      })),
      requests: Number(row!.requests),
      errors: Number(row!.errors),
      durationMsSum: Number(row!.duration_ms_sum),
      durationCount: Number(row!.duration_count),
      activeUsers: Number(row!.active_users),
      operations: row!.operations.map(toOperation),
      lastMinuteRequests: Number(row!.last_minute),
    };
  }

  async status(workspaceId: string, now: Date): Promise<ServiceStatus> {
    const [row] = (await this.db.query(STATUS, [
      workspaceId,
      new Date(now.getTime() - 60 * MINUTE_MS).toISOString(),
    ])) as Array<{
      acknowledged: Numeric;
      backlog: Numeric;
      backlog_oldest: Date | null;
      database_bytes: Numeric;
      oldest_partition: { name: string; from: string } | null;
      webhook_pending: Numeric;
      webhook_oldest: Date | null;
    }>;
    return {
      acknowledgedLastMinute: Number(row!.acknowledged),
      rollupBacklog: { entries: Number(row!.backlog), oldestOccurredAt: row!.backlog_oldest },
      databaseBytes: Number(row!.database_bytes),
      oldestRawPartition: row!.oldest_partition && {
        name: row!.oldest_partition.name,
        from: new Date(row!.oldest_partition.from),
      },
      webhookBacklog: { pending: Number(row!.webhook_pending), oldestCreatedAt: row!.webhook_oldest },
    };
  }
}

function toOperation(
  row: { operation: string | null } & Record<'requests' | 'total_tokens' | 'errors', Numeric>,
): OperationUsage {
  return {
    operation: row.operation,
    requests: Number(row.requests),
    totalTokens: Number(row.total_tokens),
    errors: Number(row.errors),
  };
}
