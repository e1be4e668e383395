import type { WebhookEventType } from '../../domain/webhook';

export interface EnqueuedWebhookEvent {
  /** `msg_` + 32 hex digits: the `webhook-id` of every attempt */
  eventId: string;
  /** how many endpoints it goes to */
  deliveries: number;
}

/**
 * The webhook outbox: an event and its deliveries are written in one statement (so they
 * commit with whatever the caller's statement commits), and the delivery worker sends them.
 */
export interface WebhookOutbox {
  /**
   * Records an event `{ type, timestamp, data }` and one pending delivery per enabled endpoint
   * of the workspace that subscribes to `type`; with `endpointId`, to that endpoint only
   * (whatever it subscribes to), and nothing is recorded (null) when the workspace has no
   * such enabled endpoint.
   */
  enqueue(
    workspaceId: string,
    type: WebhookEventType,
    data: Record<string, unknown>,
    options?: { endpointId?: string },
  ): Promise<EnqueuedWebhookEvent | null>;
}
