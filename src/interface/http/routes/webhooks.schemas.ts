import { Type } from '@sinclair/typebox';
import { MAX_WEBHOOK_URL_LENGTH, WEBHOOK_DELIVERY_STATUSES, WEBHOOK_EVENT_TYPES } from '../../../domain/webhook';
import { Nullable, StringEnum, WithDefault } from '../schemas/common';

const EventType = StringEnum(WEBHOOK_EVENT_TYPES, { description: 'an event an endpoint subscribes to' });

export const WebhookEndpoint = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    url: Type.String({ examples: ['https://example.com/hooks/tokentally'] }),
    events: Type.Array(EventType),
    description: Nullable(Type.String()),
    disabledAt: Nullable(Type.String({ format: 'date-time' }), {
      description: 'set when the receiver answered 410 Gone; nothing is sent to it any more',
    }),
    createdAt: Type.String({ format: 'date-time' }),
  },
  { $id: 'WebhookEndpoint', title: 'WebhookEndpoint' },
);

export const WebhookAttempt = Type.Object(
  {
    attempt: Type.Integer({ minimum: 1, description: '1 for the first attempt' }),
    attemptedAt: Type.String({ format: 'date-time' }),
    statusCode: Nullable(Type.Integer(), { description: 'the receiver’s HTTP status; null when none came' }),
    error: Nullable(Type.String(), {
      description: 'why no answer came (refused, timed out, not a public address); null with a status',
    }),
    durationMs: Type.Integer({ minimum: 0 }),
  },
  { $id: 'WebhookAttempt', title: 'WebhookAttempt' },
);

export const WebhookDelivery = Type.Object(
  {
    eventId: Type.String({ description: 'the `webhook-id` header of every attempt', examples: ['msg_0f9c…'] }),
    type: Type.String({ examples: ['quota.threshold_crossed'] }),
    createdAt: Type.String({ format: 'date-time', description: 'when the event happened' }),
    status: StringEnum(WEBHOOK_DELIVERY_STATUSES as ['pending', 'delivered', 'failed']),
    attempts: Type.Array(Type.Ref(WebhookAttempt)),
    nextAttemptAt: Nullable(Type.String({ format: 'date-time' }), { description: 'null once delivered or failed' }),
  },
  { $id: 'WebhookDelivery', title: 'WebhookDelivery' },
);

export const CreateWebhookBody = Type.Object(
  {
    url: Type.String({
      minLength: 1,
      maxLength: MAX_WEBHOOK_URL_LENGTH,
      description: 'http(s), without credentials; in the cloud https to a public address only',
      examples: ['https://example.com/hooks/tokentally'],
    }),
    events: Type.Array(EventType, { minItems: 1, maxItems: 20 }),
    description: Type.Optional(Type.String({ maxLength: 500, examples: ['budget alerts to #platform'] })),
  },
  { additionalProperties: false },
);

export const CreatedWebhook = Type.Object({
  secret: Type.String({
    description: 'the signing secret (Standard Webhooks); shown only in this response',
    examples: ['whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'],
  }),
  webhook: Type.Ref(WebhookEndpoint),
});

export const WebhookList = Type.Object({ items: Type.Array(Type.Ref(WebhookEndpoint)) });

export const WebhookParams = Type.Object({ webhookId: Type.String({ format: 'uuid' }) });

export const TestWebhookBody = Type.Object(
  {
    message: Type.Optional(
      Type.String({
        maxLength: 500,
        description: 'carried in the event’s `data.message`, to recognise this test',
        examples: ['hello from the admin UI'],
      }),
    ),
  },
  { additionalProperties: false, description: 'may be left out: no body is read as {}' },
);

export const QueuedTestEvent = Type.Object({
  eventId: Type.String({ description: 'the `webhook-id` the test event is sent with', examples: ['msg_0f9c…'] }),
});

export const DeliveriesQuery = Type.Object({
  limit: WithDefault(Type.Integer({ minimum: 1, maximum: 200, default: 50, description: 'newest deliveries first' })),
});

export const WebhookDeliveryList = Type.Object({ items: Type.Array(Type.Ref(WebhookDelivery)) });

export const WEBHOOK_SCHEMAS = [WebhookEndpoint, WebhookAttempt, WebhookDelivery];
