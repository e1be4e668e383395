import { insertWebhookDeliveriesSql, WEBHOOK_EVENT_ID_SQL, webhookPayloadSql } from '../webhooks/pg-webhook-outbox';

/** An ISO 8601 UTC text of a timestamptz SQL expression, as JavaScript writes one. */
const iso = (sql: string) => `to_char((${sql}) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/**
 * FROM-clause joins, after a relation that has the user (`user`, of workspace `workspace`):
 * the user's plan `p` (theirs, else the workspace's default), its limits `lim` (token_limit,
 * cost_limit; a per-user override replaces the plan's) and one row per alert threshold
 * `t.threshold`.
 */
export function planThresholdsSql(workspace: string, user: string): string {
  return `
  LEFT JOIN user_plans up ON up.workspace_id = ${workspace} AND up.user_id = ${user}
  JOIN plans p ON p.workspace_id = ${workspace} AND (p.id = up.plan_id OR (up.plan_id IS NULL AND p.is_default))
  CROSS JOIN LATERAL (SELECT
    CASE WHEN up.overrides_tokens THEN up.monthly_token_limit ELSE p.monthly_token_limit END AS token_limit,
    CASE WHEN up.overrides_cost THEN up.monthly_cost_limit ELSE p.monthly_cost_limit END AS cost_limit) lim
  CROSS JOIN LATERAL unnest(p.alert_thresholds) AS t(threshold)`;
}

/** Whether a count going from `before` to `after` passes `t.threshold` percent of `limit` (none when 0). */
export function crossesSql(before: string, after: string, limit: string): string {
  return `(${limit} > 0 AND (${before}) * 100 < t.threshold * ${limit} AND (${after}) * 100 >= t.threshold * ${limit})`;
}

/**
 * CTEs that turn the thresholds crossed (`crossed`: workspace_id, user_id, period_start,
 * threshold, plan_id, plan_name, token_limit, cost_limit, tokens, cost, time_zone) into
 * `quota.threshold_crossed` events and their deliveries, in the statement that changed the
 * counts: `quota_alerts`' key lets each (user, period, threshold) through once, whoever sees
 * it first. `showsCost` (a boolean SQL expression) says whether the payload carries cost.
 */
export function quotaAlertCtes(crossed: string, showsCost: string): string {
  return `
quota_alerted AS (
  INSERT INTO quota_alerts (workspace_id, user_id, period_start, threshold)
  SELECT workspace_id, user_id, period_start, threshold FROM ${crossed}
  ON CONFLICT DO NOTHING
  RETURNING workspace_id, user_id, period_start, threshold
),
quota_events AS (
  INSERT INTO webhook_events (workspace_id, id, type, payload)
  SELECT c.workspace_id, ${WEBHOOK_EVENT_ID_SQL}, 'quota.threshold_crossed',
    ${webhookPayloadSql(
      `'quota.threshold_crossed'`,
      `jsonb_build_object(
        'workspaceId', c.workspace_id::text, 'userId', c.user_id,
        'plan', jsonb_build_object('id', c.plan_id, 'name', c.plan_name),
        'threshold', c.threshold,
        'periodStart', ${iso('c.period_start')},
        'resetsAt', ${iso(`date_trunc('month', c.period_start + interval '32 days', c.time_zone)`)},
        'tokens', jsonb_build_object('limit', c.token_limit, 'used', c.tokens))
      || CASE WHEN ${showsCost} THEN jsonb_build_object('cost',
           jsonb_build_object('limit', trim_scale(c.cost_limit)::text, 'used', trim_scale(c.cost)::text)) ELSE '{}'::jsonb END`,
    )}
  FROM quota_alerted al JOIN ${crossed} c USING (workspace_id, user_id, period_start, threshold)
  RETURNING workspace_id, id, type
),
quota_deliveries AS (
  ${insertWebhookDeliveriesSql('quota_events')}
)`;
}
