import { randomUUID } from 'node:crypto';
import { inject, injectable } from 'tsyringe';
import { DataSource } from 'typeorm';
import type { NewWebhookEndpoint, WebhookEndpointStore } from '../../application/ports/webhook-endpoint-store.port';
import type { WebhookDelivery, WebhookDeliveryStatus, WebhookEndpoint, WebhookEventType } from '../../domain/webhook';
import { newWebhookSecret } from './signature';

interface EndpointRow {
  id: string;
  url: string;
  events: WebhookEventType[];
  description: string | null;
  disabled_at: Date | null;
  created_at: Date;
}

const ENDPOINT_COLUMNS = 'id, url, events, description, disabled_at, created_at';

function toEndpoint(row: EndpointRow): WebhookEndpoint {
  return {
    id: row.id,
    url: row.url,
    events: row.events,
    description: row.description,
    disabledAt: row.disabled_at,
    createdAt: row.created_at,
  };
}

interface DeliveryRow {
  event_id: string;
  type: string;
  created_at: Date;
  status: WebhookDeliveryStatus;
  next_attempt_at: Date | null;
  attempts: Array<{
    attempt: number;
    attemptedAt: string;
    statusCode: number | null;
    error: string | null;
    durationMs: number;
  }>;
}

@injectable()
export class PgWebhookEndpointStore implements WebhookEndpointStore {
  constructor(@inject(DataSource) private readonly db: DataSource) {}

  async create(
    workspaceId: string,
    endpoint: NewWebhookEndpoint,
  ): Promise<{ secret: string; endpoint: WebhookEndpoint }> {
    const secret = newWebhookSecret();
    const rows = (await this.db.query(
      `INSERT INTO webhook_endpoints (workspace_id, id, url, events, description, secret)
       VALUES ($1, $2, $3, $4::text[], $5, $6)
       RETURNING ${ENDPOINT_COLUMNS}`,
      [workspaceId, randomUUID(), endpoint.url, endpoint.events, endpoint.description, secret],
    )) as EndpointRow[];
    return { secret, endpoint: toEndpoint(rows[0]!) };
  }

  async list(workspaceId: string): Promise<WebhookEndpoint[]> {
    const rows = (await this.db.query(
      `SELECT ${ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE workspace_id = $1 ORDER BY created_at DESC, id`,
      [workspaceId],
    )) as EndpointRow[];
    return rows.map(toEndpoint);
  }

  async find(workspaceId: string, id: string): Promise<WebhookEndpoint | null> {
    const rows = (await this.db.query(
      `SELECT ${ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE workspace_id = $1 AND id = $2`,
      [workspaceId, id],
    )) as EndpointRow[];
    return rows[0] ? toEndpoint(rows[0]) : null;
  }

  async remove(workspaceId: string, id: string): Promise<boolean> {
    // a SELECT over the DELETE: TypeORM answers a bare DELETE with [rows, count]
    const rows = (await this.db.query(
      `WITH gone AS (DELETE FROM webhook_endpoints WHERE workspace_id = $1 AND id = $2 RETURNING id)
       SELECT count(*)::int AS n FROM gone`,
      [workspaceId, id],
    )) as Array<{ n: number }>;
    return (rows[0]?.n ?? 0) > 0;
  }

  async deliveries(workspaceId: string, endpointId: string, limit: number): Promise<WebhookDelivery[]> {
    const rows = (await this.db.query(
      `SELECT d.event_id, e.type, e.created_at, d.status, d.next_attempt_at,
         coalesce((
           SELECT json_agg(json_build_object('attempt', a.attempt, 'attemptedAt', a.attempted_at,
             'statusCode', a.status_code, 'error', a.error, 'durationMs', a.duration_ms) ORDER BY a.attempt)
           FROM webhook_attempts a
           WHERE a.workspace_id = d.workspace_id AND a.event_id = d.event_id AND a.endpoint_id = d.endpoint_id
         ), '[]') AS attempts
       FROM webhook_deliveries d
       JOIN webhook_events e ON e.workspace_id = d.workspace_id AND e.id = d.event_id
       WHERE d.workspace_id = $1 AND d.endpoint_id = $2
       ORDER BY e.created_at DESC, d.event_id DESC
       LIMIT $3`,
      [workspaceId, endpointId, limit],
    )) as DeliveryRow[];
    return rows.map((row) => ({
      eventId: row.event_id,
      type: row.type,
      createdAt: row.created_at,
      status: row.status,
      nextAttemptAt: row.status === 'pending' ? row.next_attempt_at : null,
      attempts: row.attempts.map((a) => ({ ...a, attemptedAt: new Date(a.attemptedAt) })),
    }));
  }
}
