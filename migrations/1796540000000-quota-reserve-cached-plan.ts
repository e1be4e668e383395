import type { MigrationInterface, QueryRunner } from 'typeorm';
import {
  ITEMS_WITH_STATE,
  QuotaReserveBatch1796447302551,
  reserveBatchFunction,
} from './1796447302551-quota-reserve-batch';

/**
 * The batch's read (every item with its user's period, limits, usage and held reservations,
 * and an earlier reservation with its request id) as a plain SQL function, so the caller's
 * plan takes it in (inlined) and a test can EXPLAIN it.
 */
const RESERVATION_STATE_FUNCTION = `
CREATE FUNCTION quota_reservation_state(
  p_workspace text, p_now timestamptz, p_users text[], p_requests text[], p_tokens bigint[], p_costs numeric[],
  p_providers text[], p_models text[], p_ttl_seconds integer[], p_ids uuid[])
RETURNS TABLE (
  pos integer, user_name text, request text, tokens bigint, cost numeric, provider text, model text, ttl integer,
  new_id uuid, copies bigint, starts timestamptz, resets timestamptz, used bigint, used_cost numeric,
  tokens_limit bigint, costs_limit numeric, limit_type text, rpm integer, held bigint, held_cost numeric,
  e_id uuid, e_user text, e_period timestamptz, e_expires timestamptz, e_over boolean)
LANGUAGE sql STABLE AS $fn$${ITEMS_WITH_STATE}$fn$`;

/**
 * `quota_reserve_batch` as before, with its main query planned once per connection instead of
 * on every call. It used to be an EXECUTE string, parsed and planned each time so that a plan
 * made while the reservations table was young could not go on looking request ids up through
 * the wrong index: 1.9 ms of database time a call, of which the query's own execution was
 * 0.14 ms (pg_stat_statements, reservations bench at 200/s). Now one generic plan per
 * connection, made with sequential scans off, so every lookup goes through an index.
 */
const RESERVE_BATCH_FUNCTION = reserveBatchFunction({
  create: 'CREATE OR REPLACE',
  settings: '\nSET plan_cache_mode = force_generic_plan\nSET enable_seqscan = off\n',
  items: `SELECT * FROM quota_reservation_state(p_workspace, p_now, p_users, p_requests, p_tokens, p_costs,
      p_providers, p_models, p_ttl_seconds, p_ids) s
    ORDER BY s.user_name, s.pos`,
});

/**
 * Which index a plan made on an empty table picks is a tie between those that start with the
 * same columns: the per-minute index started with the workspace too, and such a plan looked
 * every request id up by scanning the workspace's reservations through it (a call took
 * seconds a minute into the bench, until autovacuum's first ANALYZE replaced the plan). Led by
 * the user it serves the per-minute count as before and no longer competes with the unique
 * (workspace, request id) index.
 */
const RECENT_BY_USER = `CREATE INDEX quota_reservations_recent ON quota_reservations (user_id, created_at)`;

export class QuotaReserveCachedPlan1796540000000 implements MigrationInterface {
  name = 'QuotaReserveCachedPlan1796540000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`DROP INDEX quota_reservations_recent`);
    await db.query(RECENT_BY_USER);
    await db.query(RESERVATION_STATE_FUNCTION);
    await db.query(RESERVE_BATCH_FUNCTION);
  }

  /** Back to the function as the earlier migration made it, and the index as it was. */
  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP FUNCTION quota_reserve_batch(text, timestamptz, text[], text[], bigint[], numeric[], text[],
      text[], integer[], uuid[])`);
    await db.query(`DROP FUNCTION quota_reservation_state(text, timestamptz, text[], text[], bigint[], numeric[], text[],
      text[], integer[], uuid[])`);
    await new QuotaReserveBatch1796447302551().up(db);
    await db.query(`DROP INDEX quota_reservations_recent`);
    await db.query(`CREATE INDEX quota_reservations_recent ON quota_reservations (workspace_id, user_id, created_at)`);
  }
}
