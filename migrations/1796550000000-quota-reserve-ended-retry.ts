import type { MigrationInterface, QueryRunner } from 'typeorm';
import { reserveBatchFunction } from './1796447302551-quota-reserve-batch';

/** `quota_reserve_batch` as 1796540000000 made it: its main query planned once per connection. */
const CACHED_PLAN_FUNCTION = reserveBatchFunction({
  create: 'CREATE OR REPLACE',
  settings: '\nSET plan_cache_mode = force_generic_plan\nSET enable_seqscan = off\n',
  items: `SELECT * FROM quota_reservation_state(p_workspace, p_now, p_users, p_requests, p_tokens, p_costs,
      p_providers, p_models, p_ttl_seconds, p_ids) s
    ORDER BY s.user_name, s.pos`,
});

/** `text` with `before` replaced by `after`; `before` must occur exactly once. */
function replaceOnce(text: string, before: string, after: string): string {
  const at = text.indexOf(before);
  if (at < 0 || text.indexOf(before, at + 1) >= 0) {
    throw new Error(`QuotaReserveEndedRetry: the text to replace is not in the function exactly once: ${before}`);
  }
  return text.slice(0, at) + after + text.slice(at + before.length);
}

/**
 * A retried request id answered with what its reservation is now: `existing` only while it is
 * active and unexpired; `released`, `settled` or `expired` once it has ended. The earlier body
 * answered `existing` (allowed, with the old expiry) for any reservation of that request id,
 * whatever its status: a retry after a release or expiry was told it was granted while nothing
 * was held and no limit was checked. The status is read by the reservation's id (primary key)
 * only when a request id comes again; a reservation erased meanwhile counts as released.
 */
const RETRY_BEFORE = `
    IF r.e_id IS NOT NULL THEN
      RETURN QUERY SELECT r.pos, CASE WHEN r.e_user = r.user_name THEN 'existing' ELSE 'conflict' END, r.e_id,
        r.e_user, r.e_period, r.resets, r.e_expires, r.e_over, r.tokens_limit, r.costs_limit, r.used, r.used_cost,
        v_reserved, v_reserved_cost, NULL::integer;
      CONTINUE;
    END IF;`;
const RETRY_AFTER = `
    IF r.e_id IS NOT NULL THEN
      RETURN QUERY SELECT r.pos,
        CASE WHEN r.e_user <> r.user_name THEN 'conflict'
             WHEN x.status IS DISTINCT FROM 'active' THEN coalesce(x.status, 'released')
             WHEN r.e_expires <= p_now THEN 'expired'
             ELSE 'existing' END,
        r.e_id, r.e_user, r.e_period, r.resets, r.e_expires, r.e_over, r.tokens_limit, r.costs_limit, r.used,
        r.used_cost, v_reserved, v_reserved_cost, NULL::integer
      FROM (SELECT (SELECT e.status FROM quota_reservations e
                    WHERE e.workspace_id = p_workspace AND e.id = r.e_id) AS status) x;
      CONTINUE;
    END IF;`;

/** The same for a request id another call of the same user took after this one looked. */
const RACE_BEFORE = `SELECT g.pos, CASE WHEN x.user_id = g.user_name THEN 'existing' ELSE 'conflict' END, x.id, x.user_id,`;
const RACE_AFTER = `SELECT g.pos,
      CASE WHEN x.user_id <> g.user_name THEN 'conflict' WHEN x.status <> 'active' THEN x.status
           WHEN x.expires_at <= p_now THEN 'expired' ELSE 'existing' END, x.id, x.user_id,`;

const ENDED_RETRY_FUNCTION = replaceOnce(
  replaceOnce(CACHED_PLAN_FUNCTION, RETRY_BEFORE, RETRY_AFTER),
  RACE_BEFORE,
  RACE_AFTER,
);

export class QuotaReserveEndedRetry1796550000000 implements MigrationInterface {
  name = 'QuotaReserveEndedRetry1796550000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(ENDED_RETRY_FUNCTION);
  }

  /** Back to the body 1796540000000 made (same signature, settings and columns). */
  async down(db: QueryRunner): Promise<void> {
    await db.query(CACHED_PLAN_FUNCTION);
  }
}
