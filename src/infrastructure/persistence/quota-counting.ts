import { insertWebhookDeliveriesSql, WEBHOOK_EVENT_ID_SQL, webhookPayloadSql } from '../webhooks/pg-webhook-outbox';

const ISO = (sql: string) => `to_char((${sql}) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/**
 * CTEs that ingest adds after storing a batch's new records (`stored`: request_id, user_id,
 * occurred_at, total_tokens, cost), in the same statement and so the same transaction:
 * - each user's usage in their quota period (the calendar month of the workspace's zone);
 * - the reservations those records settle, which stop holding budget;
 * - one `quota.threshold_crossed` event per user, period and alert threshold crossed, also when
 *   one batch passes several at once, and its deliveries: the outbox the webhook worker sends
 *   from. `quota_alerts`' key makes each crossing happen once, whatever instance sees it.
 * Counts are added in (user, period) order, so concurrent batches lock the rows in one order.
 */
export function quotaCountingCtes(stored: string, workspace: string, showsCost: string): string {
  return `
zone AS (
  SELECT coalesce((SELECT time_zone FROM workspaces WHERE workspace_id = ${workspace}), 'UTC') AS name
),
quota_added AS (
  SELECT s.user_id, date_trunc('month', s.occurred_at, zone.name) AS period_start,
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
quota_settled AS (
  UPDATE quota_reservations r SET status = 'settled', ended_at = now()
  FROM ${stored} s
  WHERE r.workspace_id = ${workspace} AND r.request_id = s.request_id AND r.status = 'active'
  RETURNING r.id
),
quota_crossed AS (
  SELECT c.user_id, c.period_start, t.threshold, p.id AS plan_id, p.name AS plan_name,
         lim.token_limit, lim.cost_limit, c.tokens, c.cost
  FROM quota_counted c
  JOIN quota_added a USING (user_id, period_start)
  LEFT JOIN user_plans up ON up.workspace_id = ${workspace} AND up.user_id = c.user_id
  JOIN plans p ON p.workspace_id = ${workspace} AND (p.id = up.plan_id OR (up.plan_id IS NULL AND p.is_default))
  CROSS JOIN LATERAL (SELECT
    CASE WHEN up.overrides_tokens THEN up.monthly_token_limit ELSE p.monthly_token_limit END AS token_limit,
    CASE WHEN up.overrides_cost THEN up.monthly_cost_limit ELSE p.monthly_cost_limit END AS cost_limit) lim
  CROSS JOIN LATERAL unnest(p.alert_thresholds) AS t(threshold)
  WHERE (lim.token_limit > 0 AND (c.tokens - a.tokens) * 100 < t.threshold * lim.token_limit
                             AND c.tokens * 100 >= t.threshold * lim.token_limit)
     OR (lim.cost_limit > 0 AND (c.cost - a.cost) * 100 < t.threshold * lim.cost_limit
                            AND c.cost * 100 >= t.threshold * lim.cost_limit)
),
quota_alerted AS (
  INSERT INTO quota_alerts (workspace_id, user_id, period_start, threshold)
  SELECT ${workspace}, user_id, period_start, threshold FROM quota_crossed
  ON CONFLICT DO NOTHING
  RETURNING user_id, period_start, threshold
),
quota_events AS (
  INSERT INTO webhook_events (workspace_id, id, type, payload)
  SELECT ${workspace}, ${WEBHOOK_EVENT_ID_SQL}, 'quota.threshold_crossed',
    ${webhookPayloadSql(
      `'quota.threshold_crossed'`,
      `jsonb_build_object(
        'workspaceId', ${workspace}::text, 'userId', c.user_id,
        'plan', jsonb_build_object('id', c.plan_id, 'name', c.plan_name),
        'threshold', c.threshold,
        'periodStart', ${ISO('c.period_start')},
        'resetsAt', ${ISO(`date_trunc('month', c.period_start + interval '32 days', (SELECT name FROM zone))`)},
        'tokens', jsonb_build_object('limit', c.token_limit, 'used', c.tokens))
      || CASE WHEN ${showsCost} THEN jsonb_build_object('cost',
           jsonb_build_object('limit', trim_scale(c.cost_limit)::text, 'used', trim_scale(c.cost)::text)) ELSE '{}'::jsonb END`,
    )}
  FROM quota_alerted al JOIN quota_crossed c USING (user_id, period_start, threshold)
  RETURNING workspace_id, id, type
),
quota_deliveries AS (
  ${insertWebhookDeliveriesSql('quota_events')}
)`;
}
