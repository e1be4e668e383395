import { insertWebhookDeliveriesSql, WEBHOOK_EVENT_ID_SQL, webhookPayloadSql } from '../webhooks/pg-webhook-outbox';

/** An ISO 8601 UTC text of a timestamptz SQL expression, as JavaScript writes one. */
const iso = (sql: string) => `to_char((${sql}) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/**
 * FROM-clause joins, after a relation that has the user (`user`, of workspace `workspace`):
 * the user's plan `p` (theirs, else the workspace's default), its limits `lim` (token_limit,
 * cost_limit; a per-user override replaces the plan's) and one row per alert threshold
 * `t.threshold`.
 */
function planThresholdsSql(workspace: string, user: string): string {
  return `
  LEFT JOIN user_plans up ON up.workspace_id = ${workspace} AND up.user_id = ${user}
  JOIN plans p ON p.workspace_id = ${workspace} AND (p.id = up.plan_id OR (up.plan_id IS NULL AND p.is_default))
  CROSS JOIN LATERAL (SELECT
    CASE WHEN up.overrides_tokens THEN up.monthly_token_limit ELSE p.monthly_token_limit END AS token_limit,
    CASE WHEN up.overrides_cost THEN up.monthly_cost_limit ELSE p.monthly_cost_limit END AS cost_limit) lim
  CROSS JOIN LATERAL unnest(p.alert_thresholds) AS t(threshold)`;
}

/**
 * Whether a count `after` is at or past `t.threshold` percent of `limit`: never when unlimited
 * (null) or nothing is used; any usage is past every threshold of a limit of 0.
 */
function reachedSql(after: string, limit: string): string {
  return `((${after}) > 0 AND (${after}) * 100 >= t.threshold * ${limit})`;
}

/**
 * The rule of budget alerts, for every statement that changes the users' quota counts (ingest
 * adding a batch, re-pricing settling its change): a SELECT of every alert threshold of each
 * user's plan that their counts (`counted` c: user_id, period_start, tokens, cost, as they are
 * after the change) are at or past and that was not alerted yet in the period, whoever reached
 * it first, not only those this change moved the counts across: a user moved onto a smaller plan
 * (or whose limit was lowered) past a threshold is alerted with their next change. Its columns
 * are those quotaAlertCtes takes; `workspace` and `zone` are SQL expressions (c in scope) for
 * the workspace and its time zone.
 *
 * A threshold not reached costs nothing; one reached costs one probe of quota_alerts' primary key
 * (alerted already: nothing more). OFFSET 0 keeps that probe a subplan run for the reached rows
 * only: pulled up into an anti join, the plan after an ANALYZE merged with the workspace's alerts
 * in key order (reading up to all of them, every batch), and a hashed subplan would read them all.
 * quota_alerts' key still decides, in quotaAlertCtes: the probe only skips what is settled.
 */
export function thresholdsReachedSql(counted: string, workspace: string, zone: string): string {
  return `
  SELECT ${workspace}::text AS workspace_id, c.user_id, c.period_start, t.threshold, p.id AS plan_id,
         p.name AS plan_name, lim.token_limit, lim.cost_limit, c.tokens, c.cost, ${zone} AS time_zone
  FROM ${counted} c
  ${planThresholdsSql(workspace, 'c.user_id')}
  WHERE (${reachedSql('c.tokens', 'lim.token_limit')} OR ${reachedSql('c.cost', 'lim.cost_limit')})
    AND NOT EXISTS (
      SELECT 1 FROM quota_alerts qa
      WHERE qa.workspace_id = ${workspace} AND qa.user_id = c.user_id AND qa.period_start = c.period_start
        AND qa.threshold = t.threshold
      OFFSET 0)`;
}

/** The text key of one crossing: its workspace, user, period and threshold. */
const crossingKey = (alias: string) =>
  `jsonb_build_array(${alias}.workspace_id, ${alias}.user_id, ${alias}.period_start, ${alias}.threshold)::text`;

/**
 * CTEs that turn the thresholds crossed (`crossed`: workspace_id, user_id, period_start,
 * threshold, plan_id, plan_name, token_limit, cost_limit, tokens, cost, time_zone) into
 * `quota.threshold_crossed` events and their deliveries, in the statement that changed the
 * counts: `quota_alerts`' key lets each (user, period, threshold) through once, whoever sees
 * it first. `showsCost` (a boolean SQL expression) says whether the payload carries cost.
 *
 * Each event's payload is looked up by its crossing's key in one object of all the crossings'
 * payloads (built once: MATERIALIZED), not joined: both sides are CTEs the planner guesses at
 * one row, so a join ran as a nested loop, n² comparisons. A 1,000-record batch in which 1,000
 * users crossed two thresholds each (a backfill into a workspace with small plans) took 0.53 s
 * that way, 0.27 s now.
 */
export function quotaAlertCtes(crossed: string, showsCost: string): string {
  return `
quota_alert_payloads AS MATERIALIZED (
  SELECT jsonb_object_agg(${crossingKey('c')},
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
    )}) AS by_crossing
  FROM ${crossed} c
),
quota_alerted AS (
  INSERT INTO quota_alerts (workspace_id, user_id, period_start, threshold)
  SELECT workspace_id, user_id, period_start, threshold FROM ${crossed}
  ON CONFLICT DO NOTHING
  RETURNING workspace_id, user_id, period_start, threshold
),
quota_events AS (
  INSERT INTO webhook_events (workspace_id, id, type, payload)
  SELECT al.workspace_id, ${WEBHOOK_EVENT_ID_SQL}, 'quota.threshold_crossed', p.by_crossing -> ${crossingKey('al')}
  FROM quota_alerted al CROSS JOIN quota_alert_payloads p
  RETURNING workspace_id, id, type
),
quota_deliveries AS (
  ${insertWebhookDeliveriesSql('quota_events')}
)`;
}
