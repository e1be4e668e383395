import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Plans, per-user assignments, each user's usage per quota period, pre-flight reservations,
 * the thresholds already alerted, and the webhook outbox that carries the alerts.
 */
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
  }
}
