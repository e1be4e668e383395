import { randomUUID } from 'node:crypto';
import { inject, injectable } from 'tsyringe';
import { DataSource } from 'typeorm';
import type {
  QuotaStore,
  QuotaUsage,
  ReleaseOutcome,
  ReservationOutcome,
  ReservationRequest,
  ReservationView,
} from '../../application/ports/quota-store.port';
import { Decimal } from '../../domain/decimal';

interface ReserveRow {
  outcome: 'granted' | 'existing' | 'quota_exceeded' | 'rate_limited' | 'conflict';
  reservation_id: string | null;
  reserved_for: string;
  period_start: Date;
  expires_at: Date | null;
  over_limit: boolean;
  token_limit: string | null;
  cost_limit: string | null;
  used_tokens: string;
  used_cost: string;
  reserved_tokens: string;
  reserved_cost: string;
  retry_after_seconds: number | null;
}

function viewOf(row: ReserveRow): ReservationView {
  return {
    tokenLimit: row.token_limit === null ? null : Number(row.token_limit),
    costLimit: row.cost_limit === null ? null : Decimal.parse(row.cost_limit),
    usage: {
      usedTokens: Number(row.used_tokens),
      usedCost: Decimal.parse(row.used_cost),
      reservedTokens: Number(row.reserved_tokens),
      reservedCost: Decimal.parse(row.reserved_cost),
    },
  };
}

@injectable()
export class PgQuotaStore implements QuotaStore {
  constructor(@inject(DataSource) private readonly db: DataSource) {}

  async usage(workspaceId: string, userId: string, periodStart: Date, now: Date): Promise<QuotaUsage> {
    const [row] = (await this.db.query(
      `SELECT coalesce((SELECT tokens FROM quota_usage WHERE workspace_id = $1 AND user_id = $2 AND period_start = $3), 0) AS used_tokens,
              coalesce((SELECT cost FROM quota_usage WHERE workspace_id = $1 AND user_id = $2 AND period_start = $3), 0) AS used_cost,
              coalesce(sum(r.estimated_tokens), 0) AS reserved_tokens, coalesce(sum(r.estimated_cost), 0) AS reserved_cost
       FROM quota_reservations r
       WHERE r.workspace_id = $1 AND r.user_id = $2 AND r.period_start = $3 AND r.status = 'active' AND r.expires_at > $4`,
      [workspaceId, userId, periodStart, now],
    )) as Array<{ used_tokens: string; used_cost: string; reserved_tokens: string; reserved_cost: string }>;
    return {
      usedTokens: Number(row!.used_tokens),
      usedCost: Decimal.parse(row!.used_cost),
      reservedTokens: Number(row!.reserved_tokens),
      reservedCost: Decimal.parse(row!.reserved_cost),
    };
  }

  async reserve(request: ReservationRequest): Promise<ReservationOutcome> {
    const [row] = (await this.db.query(`SELECT * FROM quota_reserve($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`, [
      request.workspaceId,
      request.userId,
      request.requestId,
      request.estimatedTokens,
      request.estimatedCost?.toString() ?? null,
      request.provider,
      request.model,
      request.ttlSeconds,
      request.now,
      randomUUID(),
    ])) as ReserveRow[];
    const result = row!;
    const view = viewOf(result);
    switch (result.outcome) {
      case 'granted':
      case 'existing':
        return {
          kind: result.outcome,
          reservation: {
            id: result.reservation_id!,
            userId: result.reserved_for,
            requestId: request.requestId,
            periodStart: result.period_start,
            expiresAt: result.expires_at!,
            overLimit: result.over_limit,
          },
          view,
        };
      case 'quota_exceeded':
        return { kind: 'quota_exceeded', periodStart: result.period_start, view };
      case 'rate_limited':
        return { kind: 'rate_limited', retryAfterSeconds: result.retry_after_seconds ?? 60, view };
      case 'conflict':
        return { kind: 'conflict' };
    }
  }

  async release(workspaceId: string, reservationId: string, userId?: string): Promise<ReleaseOutcome> {
    const [row] = (await this.db.query(
      `WITH target AS (SELECT user_id, status FROM quota_reservations WHERE workspace_id = $1 AND id = $2),
       released AS (
         UPDATE quota_reservations r SET status = 'released', ended_at = now()
         WHERE r.workspace_id = $1 AND r.id = $2 AND r.status = 'active' AND ($3::text IS NULL OR r.user_id = $3)
         RETURNING r.id)
       SELECT t.user_id, t.status, (SELECT count(*) FROM released)::int AS released FROM target t`,
      [workspaceId, reservationId, userId ?? null],
    )) as Array<{ user_id: string; status: string; released: number }>;
    if (!row) return 'not_found';
    if (userId !== undefined && row.user_id !== userId) return 'forbidden';
    if (row.status === 'settled') return 'settled';
    return 'released';
  }
}
