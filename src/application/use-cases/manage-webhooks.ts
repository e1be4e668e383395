import { inject, injectable } from 'tsyringe';
import { ConflictError, NotFoundError, ValidationError } from '../../domain/errors';
import {
  parseWebhookUrl,
  requiresPublicDestination,
  type WebhookDelivery,
  type WebhookEndpoint,
  type WebhookEventType,
} from '../../domain/webhook';
import type { Settings } from '../ports/settings.port';
import { TOKENS } from '../ports/tokens';
import type { WebhookDestinationGuard } from '../ports/webhook-destination.port';
import type { WebhookEndpointStore } from '../ports/webhook-endpoint-store.port';
import type { WebhookOutbox } from '../ports/webhook-outbox.port';

export interface WebhookDraft {
  url: string;
  events: WebhookEventType[];
  description?: string;
}

/** A workspace's webhook endpoints: register, list, remove, send a test event, see deliveries. */
@injectable()
export class ManageWebhooks {
  constructor(
    @inject(TOKENS.WebhookEndpointStore) private readonly endpoints: WebhookEndpointStore,
    @inject(TOKENS.WebhookOutbox) private readonly outbox: WebhookOutbox,
    @inject(TOKENS.WebhookDestinationGuard) private readonly destinations: WebhookDestinationGuard,
    @inject(TOKENS.Settings) private readonly settings: Settings,
  ) {}

  /** Registers an endpoint; its signing secret is returned here only. */
  async create(workspaceId: string, draft: WebhookDraft): Promise<{ secret: string; endpoint: WebhookEndpoint }> {
    const mode = this.settings.deploymentMode;
    const url = parseWebhookUrl(draft.url, mode);
    if (requiresPublicDestination(mode)) {
      const problem = await this.destinations.publicProblem(url);
      if (problem) {
        throw new ValidationError(`invalid webhook url: ${problem}`, [{ path: '/url', message: problem }]);
      }
    }
    return this.endpoints.create(workspaceId, {
      url: url.href,
      events: [...new Set(draft.events)],
      description: draft.description ?? null,
    });
  }

  list(workspaceId: string): Promise<WebhookEndpoint[]> {
    return this.endpoints.list(workspaceId);
  }

  async remove(workspaceId: string, id: string): Promise<void> {
    if (!(await this.endpoints.remove(workspaceId, id))) throw notFound(id);
  }

  /** Queues a `webhook.test` event to this endpoint only; returns the event id. */
  async sendTest(workspaceId: string, id: string, requestedBy: string, message?: string): Promise<string> {
    const data = { webhookId: id, requestedBy, ...(message === undefined ? {} : { message }) };
    const queued = await this.outbox.enqueue(workspaceId, 'webhook.test', data, { endpointId: id });
    if (queued) return queued.eventId;
    const endpoint = await this.endpoints.find(workspaceId, id);
    if (!endpoint) throw notFound(id);
    throw new ConflictError(`webhook ${id} is disabled (it answered 410 Gone); register it again to receive events`);
  }

  async deliveries(workspaceId: string, id: string, limit: number): Promise<WebhookDelivery[]> {
    if (!(await this.endpoints.find(workspaceId, id))) throw notFound(id);
    return this.endpoints.deliveries(workspaceId, id, limit);
  }
}

function notFound(id: string): NotFoundError {
  return new NotFoundError(`no webhook with id ${id}`);
}
