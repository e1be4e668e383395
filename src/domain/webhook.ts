import type { DeploymentMode } from './deployment-mode';
import { ValidationError } from './errors';

/** The events an endpoint may subscribe to (a closed list). */
export const WEBHOOK_EVENT_TYPES = ['quota.threshold_crossed', 'webhook.test'] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

export type WebhookDeliveryStatus = 'pending' | 'delivered' | 'failed';
export const WEBHOOK_DELIVERY_STATUSES: readonly WebhookDeliveryStatus[] = ['pending', 'delivered', 'failed'];

export const MAX_WEBHOOK_URL_LENGTH = 2048;

/** A registered receiver of events. The signing secret is never part of it. */
export interface WebhookEndpoint {
  id: string;
  url: string;
  events: WebhookEventType[];
  description: string | null;
  /** set when the receiver answered 410 Gone: nothing is sent to it any more */
  disabledAt: Date | null;
  createdAt: Date;
}

export interface WebhookAttempt {
  attempt: number;
  attemptedAt: Date;
  /** the receiver's HTTP status, null when no answer came (refused, timed out, blocked) */
  statusCode: number | null;
  error: string | null;
  durationMs: number;
}

/** One event's way to one endpoint. */
export interface WebhookDelivery {
  eventId: string;
  type: string;
  createdAt: Date;
  status: WebhookDeliveryStatus;
  attempts: WebhookAttempt[];
  /** null once delivered or failed */
  nextAttemptAt: Date | null;
}

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

/**
 * Standard Webhooks' retry schedule: the delay before each attempt, the first at once; after
 * the last failed attempt the delivery has failed (about 3 days after the event).
 */
export const STANDARD_RETRY_SCHEDULE_MS: readonly number[] = [
  0,
  5 * SECOND,
  5 * MINUTE,
  30 * MINUTE,
  2 * HOUR,
  5 * HOUR,
  10 * HOUR,
  14 * HOUR,
  20 * HOUR,
  24 * HOUR,
];

/** A receiver's Retry-After is honoured up to this long. */
export const MAX_RETRY_AFTER_MS = 24 * HOUR;

/**
 * The delay before the next attempt after `attemptsMade` failed ones, or null when the
 * schedule is exhausted. `retryAfterMs` (the receiver's Retry-After) replaces the scheduled
 * delay; a scheduled delay gets up to ±`jitter` of itself at random (`random` in [0, 1)).
 */
export function nextRetryDelayMs(
  attemptsMade: number,
  schedule: readonly number[],
  options: { retryAfterMs?: number | null; jitter?: number; random?: () => number } = {},
): number | null {
  if (attemptsMade >= schedule.length) return null;
  if (options.retryAfterMs !== undefined && options.retryAfterMs !== null) {
    return Math.min(Math.max(0, options.retryAfterMs), MAX_RETRY_AFTER_MS);
  }
  const base = schedule[attemptsMade]!;
  const jitter = options.jitter ?? 0;
  if (base === 0 || jitter === 0) return base;
  const random = options.random ?? Math.random;
  return Math.max(0, Math.round(base * (1 + jitter * (2 * random() - 1))));
}

function urlProblem(message: string): ValidationError {
  return new ValidationError(`invalid webhook url: ${message}`, [{ path: '/url', message }]);
}

/**
 * The URL's own rules: absolute http(s), no credentials, at most 2048 characters; in the cloud
 * only https. Where its host may point (public addresses only, in the cloud) is checked
 * against DNS elsewhere. Throws a ValidationError naming `/url`.
 */
export function parseWebhookUrl(text: string, mode: DeploymentMode): URL {
  if (text.length > MAX_WEBHOOK_URL_LENGTH) throw urlProblem(`must be at most ${MAX_WEBHOOK_URL_LENGTH} characters`);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw urlProblem('must be an absolute http or https URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw urlProblem('must be an http or https URL');
  if (mode === 'cloud' && url.protocol !== 'https:') throw urlProblem('must be an https URL');
  if (url.username !== '' || url.password !== '') throw urlProblem('must not contain credentials');
  if (url.hostname === '') throw urlProblem('must name a host');
  return url;
}

/** In the cloud a webhook may only reach public addresses; a self-hosted operator's any. */
export function requiresPublicDestination(mode: DeploymentMode): boolean {
  return mode === 'cloud';
}
