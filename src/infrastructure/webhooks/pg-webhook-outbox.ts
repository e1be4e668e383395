import { inject, injectable } from 'tsyringe';
import { DataSource } from 'typeorm';
import type { EnqueuedWebhookEvent, WebhookOutbox } from '../../application/ports/webhook-outbox.port';
import type { WebhookEventType } from '../../domain/webhook';

/**
 * SQL expression of a new event id: `msg_` + 32 hex digits (a random UUID's), the `webhook-id`
 * of every attempt of the event. For any statement that inserts into webhook_events.
 */
export const WEBHOOK_EVENT_ID_SQL = `'msg_' || replace(gen_random_uuid()::text, '-', '')`;

/**
 * SQL expression of an event's payload, the JSON body its receivers get:
 * `{ "type", "timestamp" (the statement's time, ISO 8601 UTC), "data" }`, from SQL expressions
 * of the type (text) and the data (jsonb).
 */
export function webhookPayloadSql(typeSql: string, dataSql: string): string {
  return `jsonb_build_object('type', (${typeSql})::text,
    'timestamp', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
    'data', (${dataSql})::jsonb)`;
}

/**
 * SQL that inserts one pending delivery, due now, for every event of `eventsRelation` (a CTE
 * or table with workspace_id, id and type) to every enabled endpoint of its workspace that
 * subscribes to its type; RETURNING the delivered event ids and endpoint ids.
 */
export function insertWebhookDeliveriesSql(eventsRelation: string): string {
  return `INSERT INTO webhook_deliveries (workspace_id, event_id, endpoint_id, status, next_attempt_at)
  SELECT ev.workspace_id, ev.id, ep.id, 'pending', now()
  FROM ${eventsRelation} ev
  JOIN webhook_endpoints ep ON ep.workspace_id = ev.workspace_id AND ep.disabled_at IS NULL AND ev.type = ANY (ep.events)
  RETURNING event_id, endpoint_id`;
}

/** The event and its deliveries in one statement. */
const ENQUEUE = `
WITH target AS (
  SELECT id FROM webhook_endpoints
  WHERE workspace_id = $1 AND id = $4::uuid AND disabled_at IS NULL
),
event AS (
  INSERT INTO webhook_events (workspace_id, id, type, payload)
  SELECT $1, ${WEBHOOK_EVENT_ID_SQL}, $2, ${webhookPayloadSql('$2', '$3')}
  WHERE $4::uuid IS NULL OR EXISTS (SELECT 1 FROM target)
  RETURNING workspace_id, id, type
),
-- without a target: every subscriber; with one: that endpoint only, subscribed or not
to_subscribers AS (
  ${insertWebhookDeliveriesSql('(SELECT * FROM event WHERE $4::uuid IS NULL)')}
),
to_target AS (
  INSERT INTO webhook_deliveries (workspace_id, event_id, endpoint_id, status, next_attempt_at)
  SELECT event.workspace_id, event.id, target.id, 'pending', now() FROM event, target
  RETURNING event_id
)
SELECT id AS "eventId",
  CASE WHEN $4::uuid IS NULL THEN (SELECT count(*) FROM to_subscribers) ELSE (SELECT count(*) FROM to_target) END::int
    AS deliveries
FROM event`;

@injectable()
export class PgWebhookOutbox implements WebhookOutbox {
  constructor(@inject(DataSource) private readonly db: DataSource) {}

  async enqueue(
    workspaceId: string,
    type: WebhookEventType,
    data: Record<string, unknown>,
    options: { endpointId?: string } = {},
  ): Promise<EnqueuedWebhookEvent | null> {
    const rows = (await this.db.query(ENQUEUE, [
      workspaceId,
      type,
      JSON.stringify(data),
      options.endpointId ?? null,
    ])) as EnqueuedWebhookEvent[];
    return rows[0] ?? null;
  }
}
