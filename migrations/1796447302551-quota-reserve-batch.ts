import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Every item with its user's period, limits, usage and held reservations, and an earlier
 * reservation with its request id, in (user, position) order. Run with EXECUTE: planned for each
 * call with the tables' real size, where a plan cached while the reservations table was young
 * would look request ids up through the wrong index. $1 workspace, $2 now, $3… the items' users,
 * request ids, tokens, costs, providers, models, TTLs and new ids.
 */
export const ITEMS_WITH_STATE = `
  WITH zone AS (
    SELECT coalesce((SELECT w.time_zone FROM workspaces w WHERE w.workspace_id = $1), 'UTC') AS name
  ),
  period AS (
    SELECT date_trunc('month', $2, zone.name) AS starts,
           date_trunc('month', date_trunc('month', $2, zone.name) + interval '32 days', zone.name) AS resets
    FROM zone
  ),
  items AS (
    SELECT i.pos::integer AS pos, i.user_name, i.request, i.tokens, i.cost, i.provider, i.model, i.ttl, i.new_id
    FROM unnest($3, $4, $5, $6, $7, $8, $9, $10)
      WITH ORDINALITY AS i(user_name, request, tokens, cost, provider, model, ttl, new_id, pos)
  ),
  users AS (
    SELECT u.user_name, coalesce(q.tokens, 0) AS used, coalesce(q.cost, 0) AS used_cost,
           CASE WHEN up.overrides_tokens THEN up.monthly_token_limit ELSE p.monthly_token_limit END AS tokens_limit,
           CASE WHEN up.overrides_cost THEN up.monthly_cost_limit ELSE p.monthly_cost_limit END AS costs_limit,
           p.limit_type, p.requests_per_minute AS rpm, held.tokens AS held, held.cost AS held_cost
    FROM (SELECT DISTINCT it.user_name FROM items it) u
    CROSS JOIN period
    LEFT JOIN LATERAL (
      SELECT q.tokens, q.cost FROM quota_usage q
      WHERE q.workspace_id = $1 AND q.user_id = u.user_name AND q.period_start = period.starts
      LIMIT 1) q ON true
    LEFT JOIN LATERAL (
      SELECT up.plan_id, up.overrides_tokens, up.monthly_token_limit, up.overrides_cost, up.monthly_cost_limit
      FROM user_plans up WHERE up.workspace_id = $1 AND up.user_id = u.user_name
      LIMIT 1) up ON true
    LEFT JOIN LATERAL (
      SELECT p.monthly_token_limit, p.monthly_cost_limit, p.limit_type, p.requests_per_minute FROM plans p
      WHERE p.workspace_id = $1
        AND p.id = coalesce(up.plan_id, (SELECT d.id FROM plans d WHERE d.workspace_id = $1 AND d.is_default))
      LIMIT 1) p ON true
    CROSS JOIN LATERAL (
      SELECT coalesce(sum(h.estimated_tokens), 0)::bigint AS tokens, coalesce(sum(h.estimated_cost), 0) AS cost
      FROM quota_reservations h
      WHERE h.workspace_id = $1 AND h.user_id = u.user_name AND h.period_start = period.starts
        AND h.status = 'active' AND h.expires_at > $2) held
  )
  SELECT it.*, count(*) OVER (PARTITION BY it.request) AS copies, period.starts, period.resets, s.used, s.used_cost, s.tokens_limit, s.costs_limit, s.limit_type,
         s.rpm, s.held, s.held_cost, e.id AS e_id, e.user_id AS e_user, e.period_start AS e_period,
         e.expires_at AS e_expires, e.over_limit AS e_over
  FROM items it
  CROSS JOIN period
  JOIN users s USING (user_name)
  LEFT JOIN LATERAL (
    SELECT e.id, e.user_id, e.period_start, e.expires_at, e.over_limit FROM quota_reservations e
    WHERE e.workspace_id = $1 AND e.request_id = it.request
    LIMIT 1) e ON true
  ORDER BY it.user_name, it.pos`;

/**
 * Many reservations of one workspace in one call and one commit (`quota_reserve_batch`), each
 * item decided as if the items had come one after the other in the order of (user, position).
 *
 * Reservations of one user take turns on a transaction-level advisory lock per (workspace,
 * user), taken in key order, so batches on any number of instances never deadlock. Ingest does
 * not take it: a reservation reads usage and held reservations in one snapshot, and ingest
 * adds a record's usage and settles its reservation in one transaction, so a reservation sees
 * both or neither — as if it had come just before or just after that batch of records. Usage is
 * never refused, so that order is always a possible one, and reservations no longer wait for a
 * long ingest statement that settles one of their users. A refusal writes nothing: no commit to
 * flush.
 *
 * - One statement takes the locks; the next (a new snapshot, which includes everything the
 *   lock's previous holders committed) reads the period in the workspace's zone and, for every
 *   item, the user's limits, usage, held reservations and an earlier reservation with the same
 *   request id; the loop keeps each user's running sum.
 * - A request id that comes twice in one batch is answered, the second time, with what the first
 *   got (the same reservation, or a conflict for another user), so a retry holds nothing twice,
 *   also within one batch.
 * - The granted items are inserted in one statement at the end (`ON CONFLICT DO NOTHING`: a
 *   request id that another user's reservation took meanwhile is answered with that one).
 *
 * `quota_reserve` (one reservation a call) becomes a call of this one with one item, so instances
 * still running the previous version take the same locks during an upgrade.
 */
export function reserveBatchFunction(how: {
  /** `CREATE` or `CREATE OR REPLACE` */
  create: string;
  /** settings the function runs with (`SET name = value` lines), or none */
  settings: string;
  /** what the loop reads: a query, or `EXECUTE` of one */
  items: string;
}): string {
  return `
${how.create} FUNCTION quota_reserve_batch(
  p_workspace text, p_now timestamptz, p_users text[], p_requests text[], p_tokens bigint[], p_costs numeric[],
  p_providers text[], p_models text[], p_ttl_seconds integer[], p_ids uuid[])
RETURNS TABLE (
  item integer, outcome text, reservation_id uuid, reserved_for text, period_start timestamptz,
  resets_at timestamptz, expires_at timestamptz, over_limit boolean, token_limit bigint, cost_limit numeric,
  used_tokens bigint, used_cost numeric, reserved_tokens bigint, reserved_cost numeric, retry_after_seconds integer)
LANGUAGE plpgsql${how.settings} AS $fn$
DECLARE
  r record;
  v_period timestamptz;
  v_resets timestamptz;
  v_user text;
  v_reserved bigint;
  v_reserved_cost numeric;
  v_granted_now integer;
  v_recent integer;
  v_oldest timestamptz;
  v_over boolean;
  v_copy integer;
  v_inserted integer;
  -- the granted items, inserted together after the loop, with what each saw
  g_pos integer[] := '{}';
  g_id uuid[] := '{}';
  g_request text[] := '{}';
  g_user text[] := '{}';
  g_tokens bigint[] := '{}';
  g_cost numeric[] := '{}';
  g_provider text[] := '{}';
  g_model text[] := '{}';
  g_ttl integer[] := '{}';
  g_over boolean[] := '{}';
  g_token_limit bigint[] := '{}';
  g_cost_limit numeric[] := '{}';
  g_used bigint[] := '{}';
  g_used_cost numeric[] := '{}';
  g_reserved bigint[] := '{}';
  g_reserved_cost numeric[] := '{}';
  -- granted items whose request id comes again later in the batch
  d_request text[] := '{}';
  d_index integer[] := '{}';
BEGIN
  PERFORM pg_advisory_xact_lock(k.workspace_key, k.user_key)
  FROM (SELECT DISTINCT hashtext(p_workspace) AS workspace_key, hashtext(u.name) AS user_key
        FROM unnest(p_users) AS u(name) ORDER BY 1, 2 OFFSET 0) k;

  FOR r IN ${how.items}
  LOOP
    v_period := r.starts;
    v_resets := r.resets;
    IF v_user IS DISTINCT FROM r.user_name THEN
      v_user := r.user_name;
      v_reserved := r.held;
      v_reserved_cost := r.held_cost;
      v_granted_now := 0;
    END IF;

    -- a retried reservation returns what the first one got, and holds nothing twice
    IF r.e_id IS NOT NULL THEN
      RETURN QUERY SELECT r.pos, CASE WHEN r.e_user = r.user_name THEN 'existing' ELSE 'conflict' END, r.e_id,
        r.e_user, r.e_period, r.resets, r.e_expires, r.e_over, r.tokens_limit, r.costs_limit, r.used, r.used_cost,
        v_reserved, v_reserved_cost, NULL::integer;
      CONTINUE;
    END IF;
    IF r.copies > 1 THEN
      v_copy := d_index[array_position(d_request, r.request)];
      IF v_copy IS NOT NULL THEN
        RETURN QUERY SELECT r.pos, CASE WHEN g_user[v_copy] = r.user_name THEN 'existing' ELSE 'conflict' END,
          g_id[v_copy], g_user[v_copy], r.starts, r.resets, p_now + make_interval(secs => g_ttl[v_copy]),
          g_over[v_copy], r.tokens_limit, r.costs_limit, r.used, r.used_cost, v_reserved, v_reserved_cost,
          NULL::integer;
        CONTINUE;
      END IF;
    END IF;

    IF r.rpm IS NOT NULL THEN
      -- the plan's last requests-per-minute reservations: this batch's grants are the newest
      v_recent := v_granted_now;
      v_oldest := p_now;
      IF v_granted_now < r.rpm THEN
        SELECT v_granted_now + count(*), coalesce(min(x.created_at), p_now) INTO v_recent, v_oldest FROM (
          SELECT c.created_at FROM quota_reservations c
          WHERE c.workspace_id = p_workspace AND c.user_id = r.user_name AND c.created_at > p_now - interval '1 minute'
          ORDER BY c.created_at DESC LIMIT r.rpm - v_granted_now) x;
      END IF;
      IF v_recent >= r.rpm THEN
        RETURN QUERY SELECT r.pos, 'rate_limited', NULL::uuid, r.user_name, r.starts, r.resets, NULL::timestamptz,
          false, r.tokens_limit, r.costs_limit, r.used, r.used_cost, v_reserved, v_reserved_cost,
          greatest(1, ceil(extract(epoch FROM v_oldest + interval '1 minute' - p_now)))::integer;
        CONTINUE;
      END IF;
    END IF;

    v_over := (r.tokens_limit IS NOT NULL AND r.used + v_reserved + r.tokens > r.tokens_limit)
           OR (r.costs_limit IS NOT NULL AND r.cost IS NOT NULL
               AND r.used_cost + v_reserved_cost + r.cost > r.costs_limit);
    IF v_over AND r.limit_type = 'hard' THEN
      RETURN QUERY SELECT r.pos, 'quota_exceeded', NULL::uuid, r.user_name, r.starts, r.resets, NULL::timestamptz,
        true, r.tokens_limit, r.costs_limit, r.used, r.used_cost, v_reserved, v_reserved_cost, NULL::integer;
      CONTINUE;
    END IF;

    v_reserved := v_reserved + r.tokens;
    v_reserved_cost := v_reserved_cost + coalesce(r.cost, 0);
    v_granted_now := v_granted_now + 1;
    g_pos := g_pos || r.pos;
    g_id := g_id || r.new_id;
    g_request := g_request || r.request;
    g_user := g_user || r.user_name;
    g_tokens := g_tokens || r.tokens;
    g_cost := g_cost || r.cost;
    g_provider := g_provider || r.provider;
    g_model := g_model || r.model;
    g_ttl := g_ttl || r.ttl;
    g_over := g_over || v_over;
    g_token_limit := g_token_limit || r.tokens_limit;
    g_cost_limit := g_cost_limit || r.costs_limit;
    g_used := g_used || r.used;
    g_used_cost := g_used_cost || r.used_cost;
    g_reserved := g_reserved || v_reserved;
    g_reserved_cost := g_reserved_cost || v_reserved_cost;
    IF r.copies > 1 THEN
      d_request := d_request || r.request;
      d_index := d_index || cardinality(g_pos);
    END IF;
  END LOOP;
  IF cardinality(g_pos) = 0 THEN
    RETURN;
  END IF;

  RETURN QUERY
  WITH inserted AS (
    INSERT INTO quota_reservations (workspace_id, id, request_id, user_id, period_start, estimated_tokens,
      estimated_cost, provider, model, status, over_limit, created_at, expires_at)
    SELECT p_workspace, g.id, g.request, g.user_name, v_period, g.tokens, g.cost, g.provider, g.model, 'active',
      g.over, p_now, p_now + make_interval(secs => g.ttl)
    FROM unnest(g_id, g_request, g_user, g_tokens, g_cost, g_provider, g_model, g_ttl, g_over)
      AS g(id, request, user_name, tokens, cost, provider, model, ttl, over)
    ON CONFLICT ON CONSTRAINT quota_reservations_workspace_id_request_id_key DO NOTHING
    RETURNING id)
  SELECT g.pos, 'granted', g.id, g.user_name, v_period, v_resets, p_now + make_interval(secs => g.ttl), g.over,
    g.token_limit, g.cost_limit, g.used, g.used_cost, g.reserved, g.reserved_cost, NULL::integer
  FROM unnest(g_pos, g_id, g_user, g_ttl, g_over, g_token_limit, g_cost_limit, g_used, g_used_cost, g_reserved,
    g_reserved_cost)
    AS g(pos, id, user_name, ttl, over, token_limit, cost_limit, used, used_cost, reserved, reserved_cost)
  WHERE g.id IN (SELECT i.id FROM inserted i);
  GET DIAGNOSTICS v_inserted = ROW_COUNT;

  IF v_inserted < cardinality(g_pos) THEN
    -- another user's reservation took a request id after this batch looked (it was counted here
    -- all the same: later items of the user were decided with less room, never with more)
    RETURN QUERY
    SELECT g.pos, CASE WHEN x.user_id = g.user_name THEN 'existing' ELSE 'conflict' END, x.id, x.user_id,
      x.period_start, v_resets, x.expires_at, x.over_limit, g.token_limit, g.cost_limit, g.used, g.used_cost,
      g.reserved, g.reserved_cost, NULL::integer
    FROM unnest(g_pos, g_id, g_request, g_user, g_token_limit, g_cost_limit, g_used, g_used_cost, g_reserved,
      g_reserved_cost)
      AS g(pos, id, request, user_name, token_limit, cost_limit, used, used_cost, reserved, reserved_cost)
    JOIN quota_reservations x ON x.workspace_id = p_workspace AND x.request_id = g.request
    WHERE x.id <> g.id;
  END IF;
END
$fn$`;
}

const RESERVE_BATCH_FUNCTION = reserveBatchFunction({
  create: 'CREATE',
  settings: '',
  items: `EXECUTE $items$${ITEMS_WITH_STATE}$items$
    USING p_workspace, p_now, p_users, p_requests, p_tokens, p_costs, p_providers, p_models, p_ttl_seconds, p_ids`,
});

/** The one-reservation function of the previous version, now one item of a batch (same signature and columns). */
const RESERVE_ONE_FUNCTION = `
CREATE OR REPLACE FUNCTION quota_reserve(
  p_workspace text, p_user text, p_request text, p_tokens bigint, p_cost numeric,
  p_provider text, p_model text, p_ttl_seconds integer, p_now timestamptz, p_id uuid)
RETURNS TABLE (
  outcome text, reservation_id uuid, reserved_for text, period_start timestamptz, expires_at timestamptz,
  over_limit boolean, token_limit bigint, cost_limit numeric, used_tokens bigint, used_cost numeric,
  reserved_tokens bigint, reserved_cost numeric, retry_after_seconds integer)
LANGUAGE sql AS $fn$
  SELECT b.outcome, b.reservation_id, b.reserved_for, b.period_start, b.expires_at, b.over_limit, b.token_limit,
         b.cost_limit, b.used_tokens, b.used_cost, b.reserved_tokens, b.reserved_cost, b.retry_after_seconds
  FROM quota_reserve_batch(p_workspace, p_now, ARRAY[p_user], ARRAY[p_request], ARRAY[p_tokens], ARRAY[p_cost],
    ARRAY[p_provider], ARRAY[p_model], ARRAY[p_ttl_seconds], ARRAY[p_id]) b
$fn$`;

export class QuotaReserveBatch1796447302551 implements MigrationInterface {
  name = 'QuotaReserveBatch1796447302551';

  async up(db: QueryRunner): Promise<void> {
    await db.query(RESERVE_BATCH_FUNCTION);
    await db.query(RESERVE_ONE_FUNCTION);
  }

  /** Only forwards: the previous `quota_reserve` body lives in its own migration. */
  async down(): Promise<void> {
    throw new Error('QuotaReserveBatch1796447302551 cannot be reverted: restore a backup from before it');
  }
}
