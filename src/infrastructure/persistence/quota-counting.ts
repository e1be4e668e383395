import { quotaAlertCtes, thresholdsReachedSql } from './quota-alert-sql';

/** The workspace's time zone for quota periods (UTC until one is set). */
export function workspaceZoneSql(workspace: string): string {
  return `coalesce((SELECT time_zone FROM workspaces WHERE workspace_id = ${workspace}), 'UTC')`;
}

/** The start of the quota period (calendar month in the workspace's zone) that holds `instant`. */
export function quotaPeriodStartSql(instant: string, zone: string): string {
  return `date_trunc('month', ${instant}, ${zone})`;
}

/**
 * CTEs that ingest adds after storing a batch's new records (`stored`: request_id, user_id,
 * occurred_at, total_tokens, cost), in the same statement and so the same transaction:
 * - each user's usage in their quota period (the calendar month of the workspace's zone);
 * - the reservations those records settle, which stop holding budget;
 * - one `quota.threshold_crossed` event per user, period and alert threshold their usage is at or
 *   past and that was not alerted yet, also when one batch passes several at once, and its
 *   deliveries: the outbox the webhook worker sends from. `quota_alerts`' key makes each crossing
 *   happen once, whatever instance sees it.
 * Counts are added in (user, period) order and reservations settled in id order (as a release of
 * several locks them), so concurrent statements lock rows in one order.
 */
export function quotaCountingCtes(stored: string, workspace: string, showsCost: string): string {
  return `
zone AS (
  SELECT ${workspaceZoneSql(workspace)} AS name
),
quota_added AS (
  SELECT s.user_id, ${quotaPeriodStartSql('s.occurred_at', 'zone.name')} AS period_start,
         sum(s.total_tokens)::bigint AS tokens, coalesce(sum(s.cost), 0) AS cost
  FROM ${stored} s, zone GROUP BY 1, 2
),
quota_counted AS (
  INSERT INTO quota_usage AS q (workspace_id, user_id, period_start, tokens, cost)
  SELECT ${workspace}, user_id, period_start, tokens, cost FROM quota_added ORDER BY user_id, period_start
  ON CONFLICT (workspace_id, user_id, period_start)
    DO UPDATE SET tokens = q.tokens + EXCLUDED.tokens, cost = q.cost + EXCLUDED.cost
  RETURNING q.user_id, q.period_start, q.tokens, q.cost
),
-- Each record's reservation found through its request id (the one index that names it: without
-- the status inside, no other index fits, whatever the table's statistics say, so a batch never
-- walks every active reservation of the workspace; and since the ingest transaction plans with
-- sequential scans off, not by reading a table of a few pages once per record either:
-- prepared-statements.ts), then locked in id order, once, as its own
-- step: as a sub-select of the UPDATE the planner ran the locking again for every row it joined
-- (481 rows × 155 locks in one batch, 30 ms of a 48 ms statement). Each is locked by its key, one
-- lookup per id (LIMIT 1 keeps the lookup from being merged into a join): locked as
-- \`id = ANY (ids)\`, the planner, which sizes an unknown array at ten ids, read every reservation
-- of the workspace instead while the table had no statistics (a fresh database's first minute).
-- The lock returns the row as it is now (a release that came first has ended it), and the update
-- finds each row by its id alone: with the status among its conditions, the held-reservations
-- index fitted too. A reservation is one user's: only a record of that user settles it (checked
-- on the row found, not in the lookup, which stays on the request-id index); another user's
-- record with the same request id leaves it held.
quota_settling AS MATERIALIZED (
  SELECT h.id, h.status
  FROM unnest(ARRAY(
    SELECT l.id FROM ${stored} s CROSS JOIN LATERAL (
      SELECT x.id, x.status, x.user_id FROM quota_reservations x
      WHERE x.workspace_id = ${workspace} AND x.request_id = s.request_id LIMIT 1) l
    WHERE l.status = 'active' AND l.user_id = s.user_id
    ORDER BY l.id)) AS k(id)
  CROSS JOIN LATERAL (
    SELECT h.id, h.status FROM quota_reservations h
    WHERE h.workspace_id = ${workspace} AND h.id = k.id
    LIMIT 1 FOR UPDATE) h
),
quota_settled AS (
  UPDATE quota_reservations r SET status = 'settled', ended_at = now()
  FROM quota_settling x
  WHERE x.status = 'active' AND r.workspace_id = ${workspace} AND r.id = x.id
  RETURNING r.id
),
-- every threshold the users' counts are at or past after this batch and not alerted yet in the period
quota_crossed AS (${thresholdsReachedSql('quota_counted', workspace, '(SELECT name FROM zone)')}
),
${quotaAlertCtes('quota_crossed', showsCost)}`;
}
