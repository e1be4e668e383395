import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Plans, per-user assignments, each user's usage per quota period, pre-flight reservations,
 * the thresholds already alerted, and the webhook outbox that carries the alerts.
 */
/**
 * A reservation in one round trip. Each statement of a PL/pgSQL function sees what committed
 * before it ran, so once the user's usage row is locked, the usage and the reservations read
 * next include everything granted before: concurrent reservations of one user queue on that
 * row, and none can see a stale sum.
 */
const RESERVE_FUNCTION = `
CREATE FUNCTION quota_reserve(
  p_workspace text, p_user text, p_request text, p_tokens bigint, p_cost numeric,
  p_provider text, p_model text, p_ttl_seconds integer, p_now timestamptz, p_id uuid)
RETURNS TABLE (
  outcome text, reservation_id uuid, reserved_for text, period_start timestamptz, expires_at timestamptz,
  over_limit boolean, token_limit bigint, cost_limit numeric, used_tokens bigint, used_cost numeric,
  reserved_tokens bigint, reserved_cost numeric, retry_after_seconds integer)
LANGUAGE plpgsql AS $fn$
DECLARE
  v_zone text;
  v_period timestamptz;
  v_user_plan user_plans%ROWTYPE;
  v_plan plans%ROWTYPE;
  v_existing quota_reservations%ROWTYPE;
  v_token_limit bigint;
  v_cost_limit numeric;
  v_used bigint;
  v_used_cost numeric;
  v_reserved bigint;
  v_reserved_cost numeric;
  v_recent integer;
  v_oldest timestamptz;
  v_over boolean;
BEGIN
  SELECT w.time_zone INTO v_zone FROM workspaces w WHERE w.workspace_id = p_workspace;
  v_period := date_trunc('month', p_now, coalesce(v_zone, 'UTC'));

  INSERT INTO quota_usage AS q (workspace_id, user_id, period_start) VALUES (p_workspace, p_user, v_period)
  ON CONFLICT DO NOTHING;
  SELECT q.tokens, q.cost INTO v_used, v_used_cost FROM quota_usage q
  WHERE q.workspace_id = p_workspace AND q.user_id = p_user AND q.period_start = v_period FOR UPDATE;

  SELECT * INTO v_user_plan FROM user_plans up WHERE up.workspace_id = p_workspace AND up.user_id = p_user;
  IF FOUND THEN
    SELECT * INTO v_plan FROM plans p WHERE p.workspace_id = p_workspace AND p.id = v_user_plan.plan_id;
  ELSE
    SELECT * INTO v_plan FROM plans p WHERE p.workspace_id = p_workspace AND p.is_default;
  END IF;
  v_token_limit := CASE WHEN v_user_plan.overrides_tokens THEN v_user_plan.monthly_token_limit ELSE v_plan.monthly_token_limit END;
  v_cost_limit := CASE WHEN v_user_plan.overrides_cost THEN v_user_plan.monthly_cost_limit ELSE v_plan.monthly_cost_limit END;

  SELECT coalesce(sum(r.estimated_tokens), 0), coalesce(sum(r.estimated_cost), 0) INTO v_reserved, v_reserved_cost
  FROM quota_reservations r
  WHERE r.workspace_id = p_workspace AND r.user_id = p_user AND r.period_start = v_period
    AND r.status = 'active' AND r.expires_at > p_now;

  -- a retried reservation returns what the first one got, and holds nothing twice
  SELECT * INTO v_existing FROM quota_reservations r WHERE r.workspace_id = p_workspace AND r.request_id = p_request;
  IF FOUND THEN
    RETURN QUERY SELECT CASE WHEN v_existing.user_id = p_user THEN 'existing' ELSE 'conflict' END, v_existing.id,
      v_existing.user_id, v_existing.period_start, v_existing.expires_at, v_existing.over_limit, v_token_limit,
      v_cost_limit, v_used, v_used_cost, v_reserved, v_reserved_cost, NULL::integer;
    RETURN;
  END IF;

  IF v_plan.requests_per_minute IS NOT NULL THEN
    SELECT count(*), min(r.created_at) INTO v_recent, v_oldest FROM (
      SELECT r.created_at FROM quota_reservations r
      WHERE r.workspace_id = p_workspace AND r.user_id = p_user AND r.created_at > p_now - interval '1 minute'
      ORDER BY r.created_at DESC LIMIT v_plan.requests_per_minute) r;
    IF v_recent >= v_plan.requests_per_minute THEN
      RETURN QUERY SELECT 'rate_limited', NULL::uuid, p_user, v_period, NULL::timestamptz, false, v_token_limit,
        v_cost_limit, v_used, v_used_cost, v_reserved, v_reserved_cost,
        greatest(1, ceil(extract(epoch FROM v_oldest + interval '1 minute' - p_now)))::integer;
      RETURN;
    END IF;
  END IF;

  v_over := (v_token_limit IS NOT NULL AND v_used + v_reserved + p_tokens > v_token_limit)
         OR (v_cost_limit IS NOT NULL AND p_cost IS NOT NULL AND v_used_cost + v_reserved_cost + p_cost > v_cost_limit);
  IF v_over AND v_plan.limit_type = 'hard' THEN
    RETURN QUERY SELECT 'quota_exceeded', NULL::uuid, p_user, v_period, NULL::timestamptz, true, v_token_limit,
      v_cost_limit, v_used, v_used_cost, v_reserved, v_reserved_cost, NULL::integer;
    RETURN;
  END IF;

  INSERT INTO quota_reservations (workspace_id, id, request_id, user_id, period_start, estimated_tokens,
    estimated_cost, provider, model, status, over_limit, created_at, expires_at)
  VALUES (p_workspace, p_id, p_request, p_user, v_period, p_tokens, p_cost, p_provider, p_model, 'active', v_over,
    p_now, p_now + make_interval(secs => p_ttl_seconds))
  ON CONFLICT (workspace_id, request_id) DO NOTHING;
  IF NOT FOUND THEN
    -- another user's reservation took this request id meanwhile
    RETURN QUERY SELECT 'conflict', NULL::uuid, p_user, v_period, NULL::timestamptz, false, v_token_limit,
      v_cost_limit, v_used, v_used_cost, v_reserved, v_reserved_cost, NULL::integer;
    RETURN;
  END IF;
  RETURN QUERY SELECT 'granted', p_id, p_user, v_period, p_now + make_interval(secs => p_ttl_seconds), v_over,
    v_token_limit, v_cost_limit, v_used, v_used_cost, v_reserved + p_tokens, v_reserved_cost + coalesce(p_cost, 0),
    NULL::integer;
END
$fn$`;

export class PlansAndQuotas1764979200000 implements MigrationInterface {
  name = 'PlansAndQuotas1764979200000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE workspaces (
        workspace_id text        PRIMARY KEY,
        time_zone    text        NOT NULL DEFAULT 'UTC',
        created_at   timestamptz NOT NULL DEFAULT now()
      )`);
    await db.query(`
      CREATE TABLE plans (
        workspace_id        text        NOT NULL REFERENCES workspaces ON DELETE CASCADE,
        id                  uuid        NOT NULL,
        name                text        NOT NULL,
        monthly_token_limit bigint      CHECK (monthly_token_limit >= 0),
        monthly_cost_limit  numeric     CHECK (monthly_cost_limit >= 0),
        limit_type          text        NOT NULL CHECK (limit_type IN ('hard', 'soft')),
        alert_thresholds    integer[]   NOT NULL DEFAULT '{80,100}',
        requests_per_minute integer     CHECK (requests_per_minute > 0),
        is_default          boolean     NOT NULL DEFAULT false,
        created_at          timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (workspace_id, id),
        UNIQUE (workspace_id, name)
      )`);
    // exactly one default per workspace: at most one by this index, at least one by the use case
    await db.query(`CREATE UNIQUE INDEX plans_one_default ON plans (workspace_id) WHERE is_default`);
    await db.query(`
      CREATE TABLE user_plans (
        workspace_id        text    NOT NULL,
        user_id             text    NOT NULL,
        plan_id             uuid    NOT NULL,
        -- a per-user override replaces the plan's limit when its flag is set (null then means unlimited)
        overrides_tokens    boolean NOT NULL DEFAULT false,
        monthly_token_limit bigint  CHECK (monthly_token_limit >= 0),
        overrides_cost      boolean NOT NULL DEFAULT false,
        monthly_cost_limit  numeric CHECK (monthly_cost_limit >= 0),
        PRIMARY KEY (workspace_id, user_id),
        -- a deleted plan's users fall back to the default
        FOREIGN KEY (workspace_id, plan_id) REFERENCES plans (workspace_id, id) ON DELETE CASCADE
      )`);
    await db.query(`CREATE INDEX user_plans_plan ON user_plans (workspace_id, plan_id)`);
    await db.query(`
      CREATE TABLE quota_usage (
        workspace_id text        NOT NULL,
        user_id      text        NOT NULL,
        period_start timestamptz NOT NULL,
        tokens       bigint      NOT NULL DEFAULT 0,
        cost         numeric     NOT NULL DEFAULT 0,
        PRIMARY KEY (workspace_id, user_id, period_start)
      )`);
    await db.query(`
      CREATE TABLE quota_reservations (
        workspace_id     text        NOT NULL,
        id               uuid        NOT NULL,
        request_id       text        NOT NULL,
        user_id          text        NOT NULL,
        period_start     timestamptz NOT NULL,
        estimated_tokens bigint      NOT NULL CHECK (estimated_tokens >= 0),
        estimated_cost   numeric     CHECK (estimated_cost >= 0),
        provider         text,
        model            text,
        status           text        NOT NULL CHECK (status IN ('active', 'settled', 'released')),
        over_limit       boolean     NOT NULL DEFAULT false,
        created_at       timestamptz NOT NULL DEFAULT now(),
        expires_at       timestamptz NOT NULL,
        ended_at         timestamptz,
        PRIMARY KEY (workspace_id, id),
        UNIQUE (workspace_id, request_id)
      )`);
    await db.query(
      `CREATE INDEX quota_reservations_holding ON quota_reservations (workspace_id, user_id, period_start) WHERE status = 'active'`,
    );
    await db.query(`CREATE INDEX quota_reservations_recent ON quota_reservations (workspace_id, user_id, created_at)`);
    await db.query(`
      CREATE TABLE quota_alerts (
        workspace_id text        NOT NULL,
        user_id      text        NOT NULL,
        period_start timestamptz NOT NULL,
        threshold    integer     NOT NULL,
        crossed_at   timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (workspace_id, user_id, period_start, threshold)
      )`);
    await db.query(`
      CREATE TABLE webhook_endpoints (
        workspace_id text        NOT NULL,
        id           uuid        NOT NULL,
        url          text        NOT NULL,
        events       text[]      NOT NULL,
        description  text,
        secret       text        NOT NULL,
        disabled_at  timestamptz,
        created_at   timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (workspace_id, id)
      )`);
    await db.query(`
      CREATE TABLE webhook_events (
        workspace_id text        NOT NULL,
        id           text        NOT NULL,
        type         text        NOT NULL,
        payload      jsonb       NOT NULL,
        created_at   timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (workspace_id, id)
      )`);
    await db.query(`
      CREATE TABLE webhook_deliveries (
        workspace_id     text        NOT NULL,
        event_id         text        NOT NULL,
        endpoint_id      uuid        NOT NULL,
        status           text        NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
        attempts         integer     NOT NULL DEFAULT 0,
        next_attempt_at  timestamptz,
        last_attempt_at  timestamptz,
        last_status_code integer,
        last_error       text,
        PRIMARY KEY (workspace_id, event_id, endpoint_id),
        FOREIGN KEY (workspace_id, event_id) REFERENCES webhook_events (workspace_id, id) ON DELETE CASCADE,
        FOREIGN KEY (workspace_id, endpoint_id) REFERENCES webhook_endpoints (workspace_id, id) ON DELETE CASCADE
      )`);
    await db.query(
      `CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending'`,
    );
    await db.query(`
      CREATE TABLE webhook_attempts (
        workspace_id text        NOT NULL,
        event_id     text        NOT NULL,
        endpoint_id  uuid        NOT NULL,
        attempt      integer     NOT NULL,
        attempted_at timestamptz NOT NULL DEFAULT now(),
        status_code  integer,
        error        text,
        duration_ms  integer     NOT NULL,
        PRIMARY KEY (workspace_id, event_id, endpoint_id, attempt),
        FOREIGN KEY (workspace_id, event_id, endpoint_id)
          REFERENCES webhook_deliveries (workspace_id, event_id, endpoint_id) ON DELETE CASCADE
      )`);
    await db.query(RESERVE_FUNCTION);
    await this.fromExistingUsage(db);
  }

  /**
   * Workspaces that already hold data get their row (their plans are seeded on first use, as
   * for a new one), and every user's usage per UTC month, the default period, from the monthly
   * rollup and what is still pending: the numbers the Usage tab shows for those months.
   */
  private async fromExistingUsage(db: QueryRunner): Promise<void> {
    await db.query(`
      INSERT INTO workspaces (workspace_id)
      SELECT workspace_id FROM usage_monthly_users UNION SELECT workspace_id FROM usage_pending
      UNION SELECT workspace_id FROM api_keys UNION SELECT workspace_id FROM models
      ON CONFLICT DO NOTHING`);
    await db.query(`
      INSERT INTO quota_usage (workspace_id, user_id, period_start, tokens, cost)
      SELECT workspace_id, user_id, period_start, sum(tokens), sum(cost)
      FROM (
        SELECT workspace_id, user_id, month_start AS period_start, total_tokens AS tokens, cost FROM usage_monthly_users
        UNION ALL
        SELECT workspace_id, user_id, date_trunc('month', bucket_start, 'UTC'), total_tokens, cost FROM usage_pending
      ) usage
      GROUP BY 1, 2, 3`);
  }

  async down(db: QueryRunner): Promise<void> {
    for (const table of [
      'webhook_attempts',
      'webhook_deliveries',
      'webhook_events',
      'webhook_endpoints',
      'quota_alerts',
      'quota_reservations',
      'quota_usage',
      'user_plans',
      'plans',
      'workspaces',
    ]) {
      await db.query(`DROP TABLE IF EXISTS ${table}`);
    }
    await db.query(`DROP FUNCTION IF EXISTS quota_reserve`);
  }
}
