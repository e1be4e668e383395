import type { WebhookDelivery, WebhookEndpoint, WebhookEventType } from '../../domain/webhook';

export interface NewWebhookEndpoint {
  url: string;
  events: WebhookEventType[];
  description: string | null;
}

export interface WebhookEndpointStore {
  /** Stores an endpoint with a new signing secret, returned here once. */
  create(workspaceId: string, endpoint: NewWebhookEndpoint): Promise<{ secret: string; endpoint: WebhookEndpoint }>;
  list(workspaceId: string): Promise<WebhookEndpoint[]>;
  find(workspaceId: string, id: string): Promise<WebhookEndpoint | null>;
  /** Removes the endpoint with its deliveries; false when the workspace has no such endpoint. */
  remove(workspaceId: string, id: string): Promise<boolean>;
  /** The endpoint's deliveries, newest event first, each with its attempts. */
  deliveries(workspaceId: string, endpointId: string, limit: number): Promise<WebhookDelivery[]>;
}
