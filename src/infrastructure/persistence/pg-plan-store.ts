import { randomUUID } from 'node:crypto';
import { inject, injectable } from 'tsyringe';
import { DataSource, type EntityManager } from 'typeorm';
import type { PlanAssignment, PlanStore } from '../../application/ports/plan-store.port';
import type { Settings } from '../../application/ports/settings.port';
import type { TimeZoneRules } from '../../application/ports/time-zone-rules.port';
import { TOKENS } from '../../application/ports/tokens';
import { Decimal } from '../../domain/decimal';
import { STARTER_PLANS, type Plan, type PlanDraft, type UserLimits } from '../../domain/plan';
import { sayingUnavailable } from './database-unavailable';

interface PlanRow {
  id: string;
  name: string;
  monthly_token_limit: string | null;
  monthly_cost_limit: string | null;
  limit_type: 'hard' | 'soft';
  alert_thresholds: number[];
  requests_per_minute: number | null;
  is_default: boolean;
}

const PLAN_COLUMNS =
  'id, name, monthly_token_limit, monthly_cost_limit, limit_type, alert_thresholds, requests_per_minute, is_default';

function toPlan(row: PlanRow): Plan {
  return {
    id: row.id,
    name: row.name,
    monthlyTokenLimit: row.monthly_token_limit === null ? null : Number(row.monthly_token_limit),
    monthlyCostLimit: row.monthly_cost_limit === null ? null : Decimal.parse(row.monthly_cost_limit),
    limitType: row.limit_type,
    alertThresholds: row.alert_thresholds,
    requestsPerMinute: row.requests_per_minute,
    isDefault: row.is_default,
  };
}

function planValues(plan: PlanDraft): unknown[] {
  return [
    plan.name,
    plan.monthlyTokenLimit,
    plan.monthlyCostLimit?.toString() ?? null,
    plan.limitType,
    plan.alertThresholds,
    plan.requestsPerMinute,
    plan.isDefault,
  ];
}

const UNIQUE_VIOLATION = '23505';

function isUniqueViolation(error: unknown): boolean {
  const e = error as { code?: string; driverError?: { code?: string } };
  return (e.driverError?.code ?? e.code) === UNIQUE_VIOLATION;
}

/**
 * The current quota period of every user of the workspace, and any later one (a record may be
 * stamped up to an hour ahead), counted again in `zone`: from the raw records where they are
 * kept, each in the period of its own time, and from the hourly rollup (with what is still
 * pending) for hours before that. Both are exact for zones whose offsets are whole hours;
 * elsewhere an hour older than the raw window that straddles the period's start counts by its
 * start.
 */
const RECOUNT_PERIOD = `
WITH bounds AS (
  SELECT date_trunc('month', $2::timestamptz, $3) AS period_start,
         greatest(date_trunc('month', $2::timestamptz, $3), date_trunc('hour', $4::timestamptz)) AS raw_from
),
hourly AS (
  SELECT h.user_id, b.period_start, h.total_tokens AS tokens, h.cost FROM usage_hourly h, bounds b
  WHERE h.workspace_id = $1 AND h.bucket_start >= b.period_start AND h.bucket_start < b.raw_from
  UNION ALL
  SELECT p.user_id, b.period_start, p.total_tokens, p.cost FROM usage_pending p, bounds b
  WHERE p.workspace_id = $1 AND p.bucket_start >= b.period_start AND p.bucket_start < b.raw_from
),
raw AS (
  SELECT r.user_id, date_trunc('month', r.occurred_at, $3) AS period_start, r.total_tokens AS tokens,
         coalesce(r.cost, 0) AS cost
  FROM usage_records r, bounds b
  WHERE r.workspace_id = $1 AND r.occurred_at >= b.raw_from
)
INSERT INTO quota_usage (workspace_id, user_id, period_start, tokens, cost)
SELECT $1, u.user_id, u.period_start, sum(u.tokens), sum(u.cost)
FROM (SELECT * FROM hourly UNION ALL SELECT * FROM raw) u
GROUP BY u.user_id, u.period_start
ON CONFLICT (workspace_id, user_id, period_start) DO UPDATE SET tokens = EXCLUDED.tokens, cost = EXCLUDED.cost`;

/**
 * When the zone changes within the same calendar month, the month's alerts already sent and
 * its live reservations move to the period's new start: an alert is not sent twice for one
 * month, and a held reservation keeps holding. ($3 the old zone, $4 the new one.)
 */
const SAME_MONTH = `
  SELECT date_trunc('month', $2::timestamptz, $3) AS old_start, date_trunc('month', $2::timestamptz, $4) AS new_start
  WHERE date_trunc('month', $2::timestamptz AT TIME ZONE $3) = date_trunc('month', $2::timestamptz AT TIME ZONE $4)
    AND date_trunc('month', $2::timestamptz, $3) <> date_trunc('month', $2::timestamptz, $4)`;
const CARRY_INTO_NEW_ZONE = [
  `INSERT INTO quota_alerts (workspace_id, user_id, period_start, threshold, crossed_at)
   SELECT a.workspace_id, a.user_id, m.new_start, a.threshold, a.crossed_at
   FROM quota_alerts a, (${SAME_MONTH}) m WHERE a.workspace_id = $1 AND a.period_start = m.old_start
   ON CONFLICT DO NOTHING`,
  `DELETE FROM quota_alerts a USING (${SAME_MONTH}) m WHERE a.workspace_id = $1 AND a.period_start = m.old_start`,
  `UPDATE quota_reservations r SET period_start = m.new_start FROM (${SAME_MONTH}) m
   WHERE r.workspace_id = $1 AND r.period_start = m.old_start AND r.status = 'active'`,
];

@injectable()
export class PgPlanStore implements PlanStore {
  /** Workspaces this process has made sure of: one statement per workspace and process. */
  private readonly known = new Set<string>();

  constructor(
    @inject(DataSource) private readonly db: DataSource,
    @inject(TOKENS.Settings) private readonly settings: Settings,
    @inject(TOKENS.TimeZoneRules) private readonly zones: TimeZoneRules,
  ) {}

  async ensureWorkspace(workspaceId: string): Promise<void> {
    if (this.known.has(workspaceId)) return;
    await sayingUnavailable(() => this.seedPlans(workspaceId));
    this.known.add(workspaceId);
  }

  /** Creates the workspace and its starter plans unless they exist. */
  private async seedPlans(workspaceId: string): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.query(`INSERT INTO workspaces (workspace_id) VALUES ($1) ON CONFLICT DO NOTHING`, [workspaceId]);
      // the lock makes two first requests of a new workspace seed its plans once
      const [row] = (await tx.query(`SELECT 1 FROM workspaces WHERE workspace_id = $1 FOR UPDATE`, [
        workspaceId,
      ])) as unknown[];
      if (!row) return;
      const [existing] = (await tx.query(`SELECT 1 FROM plans WHERE workspace_id = $1 LIMIT 1`, [
        workspaceId,
      ])) as unknown[];
      if (existing) return;
      for (const plan of STARTER_PLANS) await this.insert(tx, workspaceId, plan);
    });
  }

  async timeZone(workspaceId: string): Promise<string> {
    const [row] = (await this.db.query(`SELECT time_zone FROM workspaces WHERE workspace_id = $1`, [
      workspaceId,
    ])) as Array<{ time_zone: string }>;
    const zone = row?.time_zone ?? 'UTC';
    // its periods are computed here too (domain/plan.ts), by the database's rules
    await this.zones.load(zone);
    return zone;
  }

  async setTimeZone(workspaceId: string, zone: string, now: Date): Promise<void> {
    await this.ensureWorkspace(workspaceId);
    const rawFrom = new Date(now.getTime() - this.settings.rawRetentionDays * 24 * 60 * 60 * 1000);
    await this.db.transaction(async (tx) => {
      const [previous] = (await tx.query(`SELECT time_zone FROM workspaces WHERE workspace_id = $1 FOR UPDATE`, [
        workspaceId,
      ])) as Array<{ time_zone: string }>;
      await tx.query(`UPDATE workspaces SET time_zone = $2 WHERE workspace_id = $1`, [workspaceId, zone]);
      // ingest waits for this lock before it takes its snapshot, so it then counts in the new zone
      await tx.query(`LOCK TABLE quota_usage IN SHARE ROW EXCLUSIVE MODE`);
      // the current period's row under any zone starts within a day of its start in the new one;
      // later periods' rows (records stamped ahead) go too, and are counted again with it
      await tx.query(
        `DELETE FROM quota_usage WHERE workspace_id = $1 AND period_start > date_trunc('month', $2::timestamptz, $3) - interval '2 days'`,
        [workspaceId, now, zone],
      );
      await tx.query(RECOUNT_PERIOD, [workspaceId, now, zone, rawFrom]);
      for (const carry of CARRY_INTO_NEW_ZONE) await tx.query(carry, [workspaceId, now, previous!.time_zone, zone]);
    });
  }

  async list(workspaceId: string): Promise<Plan[]> {
    const rows = (await this.db.query(
      `SELECT ${PLAN_COLUMNS} FROM plans WHERE workspace_id = $1 ORDER BY monthly_token_limit NULLS LAST, name`,
      [workspaceId],
    )) as PlanRow[];
    return rows.map(toPlan);
  }

  async get(workspaceId: string, planId: string): Promise<Plan | null> {
    const [row] = (await this.db.query(`SELECT ${PLAN_COLUMNS} FROM plans WHERE workspace_id = $1 AND id = $2`, [
      workspaceId,
      planId,
    ])) as PlanRow[];
    return row ? toPlan(row) : null;
  }

  async create(workspaceId: string, draft: PlanDraft): Promise<Plan | null> {
    try {
      return await this.db.transaction(async (tx) => {
        await this.lockPlans(tx, workspaceId);
        if (draft.isDefault) await this.clearDefault(tx, workspaceId);
        return this.insert(tx, workspaceId, draft);
      });
    } catch (error) {
      if (isUniqueViolation(error)) return null;
      throw error;
    }
  }

  async update(workspaceId: string, plan: Plan): Promise<Plan | 'missing' | 'name-taken'> {
    try {
      return await this.db.transaction(async (tx) => {
        await this.lockPlans(tx, workspaceId);
        // deleted since it was read: nothing changes, the old default included
        const [found] = (await tx.query(`SELECT 1 FROM plans WHERE workspace_id = $1 AND id = $2`, [
          workspaceId,
          plan.id,
        ])) as unknown[];
        if (!found) return 'missing';
        if (plan.isDefault) await this.clearDefault(tx, workspaceId, plan.id);
        const [rows] = (await tx.query(
          `UPDATE plans SET name = $3, monthly_token_limit = $4, monthly_cost_limit = $5, limit_type = $6,
             -- never unset here: a plan stops being the default only when another becomes it
             alert_thresholds = $7, requests_per_minute = $8, is_default = is_default OR $9
           WHERE workspace_id = $1 AND id = $2 RETURNING ${PLAN_COLUMNS}`,
          [workspaceId, plan.id, ...planValues(plan)],
        )) as [PlanRow[], number];
        return toPlan(rows[0]!);
      });
    } catch (error) {
      if (isUniqueViolation(error)) return 'name-taken';
      throw error;
    }
  }

  async remove(workspaceId: string, planId: string): Promise<'removed' | 'missing' | 'default'> {
    return this.db.transaction(async (tx) => {
      await this.lockPlans(tx, workspaceId);
      const [row] = (await tx.query(`SELECT is_default FROM plans WHERE workspace_id = $1 AND id = $2`, [
        workspaceId,
        planId,
      ])) as Array<{ is_default: boolean }>;
      if (!row) return 'missing';
      // made the default since it was read: a workspace always keeps one
      if (row.is_default) return 'default';
      await tx.query(`DELETE FROM plans WHERE workspace_id = $1 AND id = $2`, [workspaceId, planId]);
      return 'removed';
    });
  }

  async assign(workspaceId: string, userId: string, assignment: PlanAssignment): Promise<void> {
    await this.db.query(
      `INSERT INTO user_plans (workspace_id, user_id, plan_id, overrides_tokens, monthly_token_limit, overrides_cost, monthly_cost_limit)
       VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (workspace_id, user_id) DO UPDATE SET plan_id = EXCLUDED.plan_id,
         overrides_tokens = EXCLUDED.overrides_tokens, monthly_token_limit = EXCLUDED.monthly_token_limit,
         overrides_cost = EXCLUDED.overrides_cost, monthly_cost_limit = EXCLUDED.monthly_cost_limit`,
      [
        workspaceId,
        userId,
        assignment.planId,
        assignment.monthlyTokenLimit !== undefined,
        assignment.monthlyTokenLimit ?? null,
        assignment.monthlyCostLimit !== undefined,
        assignment.monthlyCostLimit?.toString() ?? null,
      ],
    );
  }

  async limitsOf(workspaceId: string, userId: string): Promise<UserLimits> {
    const [row] = (await this.db.query(
      `SELECT ${PLAN_COLUMNS.split(', ')
        .map((c) => `p.${c}`)
        .join(', ')},
         up.overrides_tokens, up.monthly_token_limit AS user_token_limit,
         up.overrides_cost, up.monthly_cost_limit AS user_cost_limit
       FROM plans p LEFT JOIN user_plans up ON up.workspace_id = $1 AND up.user_id = $2
       WHERE p.workspace_id = $1 AND (p.id = up.plan_id OR (up.plan_id IS NULL AND p.is_default))`,
      [workspaceId, userId],
    )) as Array<
      PlanRow & {
        overrides_tokens: boolean | null;
        user_token_limit: string | null;
        overrides_cost: boolean | null;
        user_cost_limit: string | null;
      }
    >;
    if (!row) throw new Error(`workspace ${workspaceId} has no default plan`);
    const plan = toPlan(row);
    return {
      plan,
      tokenLimit: row.overrides_tokens
        ? row.user_token_limit === null
          ? null
          : Number(row.user_token_limit)
        : plan.monthlyTokenLimit,
      costLimit: row.overrides_cost
        ? row.user_cost_limit === null
          ? null
          : Decimal.parse(row.user_cost_limit)
        : plan.monthlyCostLimit,
    };
  }

  private async insert(tx: EntityManager, workspaceId: string, draft: PlanDraft): Promise<Plan> {
    const [row] = (await tx.query(
      `INSERT INTO plans (workspace_id, id, name, monthly_token_limit, monthly_cost_limit, limit_type,
         alert_thresholds, requests_per_minute, is_default)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING ${PLAN_COLUMNS}`,
      [workspaceId, randomUUID(), ...planValues(draft)],
    )) as PlanRow[];
    return toPlan(row!);
  }

  /**
   * Changes to a workspace's plans one at a time: a plan made the default while another request
   * deletes it, or two made the default at once, would otherwise leave no default or clash on
   * the one-default index. Reads after the lock see what the one before committed.
   */
  private async lockPlans(tx: EntityManager, workspaceId: string): Promise<void> {
    await tx.query(`SELECT 1 FROM workspaces WHERE workspace_id = $1 FOR UPDATE`, [workspaceId]);
  }

  private async clearDefault(tx: EntityManager, workspaceId: string, except?: string): Promise<void> {
    await tx.query(`UPDATE plans SET is_default = false WHERE workspace_id = $1 AND is_default AND id <> $2`, [
      workspaceId,
      except ?? '00000000-0000-0000-0000-000000000000',
    ]);
  }
}
