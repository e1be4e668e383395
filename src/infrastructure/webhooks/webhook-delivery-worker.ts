import type { DataSource } from 'typeorm';
import type { DeploymentMode } from '../../domain/deployment-mode';
import { nextRetryDelayMs, requiresPublicDestination, STANDARD_RETRY_SCHEDULE_MS } from '../../domain/webhook';
import { PublicDestinationGuard, systemHostResolver, type HostResolver, type ResolvedAddress } from './destination';
import { postWebhook, retryAfterMs } from './http-sender';
import { signWebhook } from './signature';

export interface WebhookWorkerOptions {
  /** in the cloud every attempt re-resolves the host and sends to public addresses only */
  deploymentMode: DeploymentMode;
  /** how host names are resolved (tests give their own) */
  resolveHost?: HostResolver;
  /** the delay before each attempt, the first included; default Standard Webhooks' (0, 5 s, … 24 h) */
  retryScheduleMs?: readonly number[];
  /** a scheduled delay varies by up to ± this share of itself; default 0.1 */
  jitter?: number;
  /** how often due deliveries are looked for; default 1 s */
  pollIntervalMs?: number;
  /** one attempt's limit, from the DNS lookup to the receiver's answer; default 15 s */
  timeoutMs?: number;
  /** attempts in flight at once, per worker; default 8 */
  concurrency?: number;
  /** the longest pause after failed polls in a row (the database is away); default 5 s */
  maxBackoffMs?: number;
}

export interface WebhookWorkerEvents {
  /** A poll or an outcome's write failed: called for the first failure of a run of them only. */
  onError: (error: unknown) => void;
  /** The first poll that succeeded after `failures` failed ones. */
  onRecovered?: (failures: number) => void;
}

interface Claimed {
  workspace_id: string;
  event_id: string;
  endpoint_id: string;
  /** the number of this attempt */
  attempts: number;
  payload: unknown;
  url: string;
  secret: string;
}

/**
 * Claims due deliveries: each is locked (others skip it: FOR UPDATE SKIP LOCKED), its attempt
 * counted and its next attempt moved past the lease, all in one statement. Another worker sees
 * a claimed delivery as not due until the lease ends, so an attempt is sent by one worker; a
 * worker that died mid-attempt leaves the delivery to be retried after the lease (at least once).
 * Due deliveries of a disabled endpoint fail without an attempt.
 */
const CLAIM = `
WITH due AS (
  SELECT d.workspace_id, d.event_id, d.endpoint_id, ep.disabled_at IS NOT NULL AS disabled
  FROM webhook_deliveries d
  JOIN webhook_endpoints ep ON ep.workspace_id = d.workspace_id AND ep.id = d.endpoint_id
  WHERE d.status = 'pending' AND d.next_attempt_at <= now()
  ORDER BY d.next_attempt_at
  LIMIT $1
  FOR UPDATE OF d SKIP LOCKED
),
claimed AS (
  UPDATE webhook_deliveries d
  SET attempts = d.attempts + 1, next_attempt_at = now() + $2::int * interval '1 millisecond'
  FROM due
  WHERE NOT due.disabled
    AND d.workspace_id = due.workspace_id AND d.event_id = due.event_id AND d.endpoint_id = due.endpoint_id
  RETURNING d.workspace_id, d.event_id, d.endpoint_id, d.attempts
),
dropped AS (
  UPDATE webhook_deliveries d
  SET status = 'failed', next_attempt_at = NULL, last_error = 'the endpoint is disabled'
  FROM due
  WHERE due.disabled
    AND d.workspace_id = due.workspace_id AND d.event_id = due.event_id AND d.endpoint_id = due.endpoint_id
)
SELECT c.workspace_id, c.event_id, c.endpoint_id, c.attempts, ev.payload, ep.url, ep.secret
FROM claimed c
JOIN webhook_events ev ON ev.workspace_id = c.workspace_id AND ev.id = c.event_id
JOIN webhook_endpoints ep ON ep.workspace_id = c.workspace_id AND ep.id = c.endpoint_id`;

/**
 * One attempt's outcome: the attempt recorded, the delivery delivered, failed or due again;
 * on a 410 the endpoint is disabled and its other pending deliveries fail. A worker whose
 * lease ran out (another one claimed the next attempt meanwhile) records its attempt only.
 */
const RECORD = `
WITH delivery AS (
  UPDATE webhook_deliveries
  SET status = $9::text,
      next_attempt_at = CASE WHEN $9::text = 'pending' THEN now() + $10::int * interval '1 millisecond' END,
      last_attempt_at = $5, last_status_code = $6, last_error = $7
  WHERE workspace_id = $1 AND event_id = $2 AND endpoint_id = $3 AND attempts = $4 AND status = 'pending'
  RETURNING 1
),
attempt AS (
  INSERT INTO webhook_attempts (workspace_id, event_id, endpoint_id, attempt, attempted_at, status_code, error, duration_ms)
  SELECT $1, $2, $3, $4, $5, $6, $7, $8
  WHERE EXISTS (SELECT 1 FROM webhook_deliveries WHERE workspace_id = $1 AND event_id = $2 AND endpoint_id = $3)
  ON CONFLICT DO NOTHING
),
disabled AS (
  UPDATE webhook_endpoints SET disabled_at = coalesce(disabled_at, now())
  WHERE $11::boolean AND workspace_id = $1 AND id = $3
),
stopped AS (
  UPDATE webhook_deliveries
  SET status = 'failed', next_attempt_at = NULL, last_error = 'the endpoint answered 410 Gone and was disabled'
  WHERE $11::boolean AND workspace_id = $1 AND endpoint_id = $3 AND event_id <> $2 AND status = 'pending'
)
SELECT count(*)::int AS updated FROM delivery`;

interface Outcome {
  statusCode: number | null;
  error: string | null;
  retryAfterMs: number | null;
}

/**
 * The service's webhook sender: every `pollIntervalMs` (at once again while there is more to
 * do) it claims due deliveries, up to `concurrency` in flight, and POSTs each event's payload
 * with Standard Webhooks' headers. Only a 2xx answer delivers; otherwise the next attempt
 * follows the retry schedule (or the receiver's Retry-After) until it is exhausted; a 410
 * disables the endpoint. Every attempt is recorded. A failed poll (the database is away) is
 * retried after a pause that doubles up to `maxBackoffMs`; nothing escapes the loop.
 */
export function startWebhookWorker(
  db: DataSource,
  options: WebhookWorkerOptions,
  events: WebhookWorkerEvents,
): { stop(): Promise<void> } {
  const schedule = options.retryScheduleMs ?? STANDARD_RETRY_SCHEDULE_MS;
  if (schedule.length === 0) throw new Error('a webhook retry schedule needs at least one attempt');
  const jitter = options.jitter ?? 0.1;
  const pollIntervalMs = options.pollIntervalMs ?? 1_000;
  const timeoutMs = options.timeoutMs ?? 15_000;
  const concurrency = options.concurrency ?? 8;
  const maxBackoffMs = options.maxBackoffMs ?? 5_000;
  // a claimed attempt is another worker's again only after this: the DNS lookup and the request
  // are each bounded by timeoutMs, and the outcome's write follows
  const leaseMs = 2 * timeoutMs + 30_000;
  const publicOnly = requiresPublicDestination(options.deploymentMode);
  const guard = new PublicDestinationGuard(options.resolveHost ?? systemHostResolver, timeoutMs);

  const report = (call: () => void): void => {
    try {
      call();
    } catch {
      // a handler that throws must not end the loop
    }
  };
  let stopped = false;
  let failures = 0;
  const failed = (error: unknown): void => {
    failures += 1;
    if (failures === 1 && !stopped) report(() => events.onError(error));
  };

  const attempt = async (claimed: Claimed): Promise<Outcome> => {
    try {
      const url = new URL(claimed.url);
      let addresses: ResolvedAddress[] | undefined;
      if (publicOnly) {
        const resolution = await guard.resolvePublic(url.hostname);
        if ('problem' in resolution)
          return { statusCode: null, error: `not sent: ${resolution.problem}`, retryAfterMs: null };
        addresses = resolution.addresses;
      }
      const body = JSON.stringify(claimed.payload);
      const timestamp = Math.floor(Date.now() / 1000);
      const response = await postWebhook({
        url,
        body,
        timeoutMs,
        addresses,
        headers: {
          'content-type': 'application/json',
          'user-agent': 'Tokentally-Webhooks/1',
          'webhook-id': claimed.event_id,
          'webhook-timestamp': String(timestamp),
          'webhook-signature': signWebhook(claimed.secret, claimed.event_id, timestamp, body),
        },
      });
      return { statusCode: response.statusCode, error: null, retryAfterMs: retryAfterMs(response.retryAfter) };
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      const message = error instanceof Error ? error.message : String(error);
      return {
        statusCode: null,
        error: typeof code === 'string' && !message.includes(code) ? `${code}: ${message}` : message,
        retryAfterMs: null,
      };
    }
  };

  const deliver = async (claimed: Claimed): Promise<void> => {
    const attemptedAt = new Date();
    const started = performance.now();
    const outcome = await attempt(claimed);
    const durationMs = Math.round(performance.now() - started);
    const code = outcome.statusCode;
    const gone = code === 410;
    let status: 'delivered' | 'failed' | 'pending';
    let delayMs: number | null = null;
    if (code !== null && code >= 200 && code < 300) status = 'delivered';
    else if (gone) status = 'failed';
    else {
      delayMs = nextRetryDelayMs(claimed.attempts, schedule, { retryAfterMs: outcome.retryAfterMs, jitter });
      status = delayMs === null ? 'failed' : 'pending';
    }
    try {
      await db.query(RECORD, [
        claimed.workspace_id,
        claimed.event_id,
        claimed.endpoint_id,
        claimed.attempts,
        attemptedAt,
        code,
        outcome.error === null ? null : outcome.error.slice(0, 1000),
        durationMs,
        status,
        delayMs ?? 0,
        gone,
      ]);
    } catch (error) {
      // the delivery is tried again when its lease ends
      failed(error);
    }
  };

  const inFlight = new Set<Promise<void>>();
  let timer: NodeJS.Timeout | undefined;
  let polling: Promise<void> | undefined;
  let wakeUp = false;

  const arm = (delayMs: number): void => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      polling = poll().finally(() => {
        polling = undefined;
      });
    }, delayMs);
  };

  /** A slot came free: look for more at once (not while the database is failing). */
  const wake = (): void => {
    if (stopped || failures > 0) return;
    if (polling) wakeUp = true;
    else arm(0);
  };

  const poll = async (): Promise<void> => {
    if (stopped) return;
    let next = pollIntervalMs;
    try {
      const room = concurrency - inFlight.size;
      if (room > 0) {
        const claimed = (await db.query(CLAIM, [room, leaseMs])) as Claimed[];
        for (const delivery of claimed) {
          const running: Promise<void> = deliver(delivery).finally(() => {
            inFlight.delete(running);
            wake();
          });
          inFlight.add(running);
        }
      }
      if (failures > 0 && !stopped) {
        const after = failures;
        report(() => events.onRecovered?.(after));
      }
      failures = 0;
    } catch (error) {
      failed(error);
      next = Math.min(maxBackoffMs, pollIntervalMs * 2 ** (failures - 1));
    }
    if (wakeUp && failures === 0) next = 0;
    wakeUp = false;
    if (!stopped) arm(next);
  };

  arm(0);
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await polling;
      // attempts in flight end within their timeout and record their outcome
      await Promise.allSettled([...inFlight]);
    },
  };
}
