import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import type { ResolvedAddress } from './destination';

export interface WebhookRequest {
  url: URL;
  headers: Record<string, string>;
  body: string;
  /** the whole exchange, connect to the end of the answer */
  timeoutMs: number;
  /** connect to these (already checked) addresses instead of resolving the host again */
  addresses?: ResolvedAddress[];
}

export interface WebhookResponse {
  statusCode: number;
  retryAfter: string | undefined;
}

/** A lookup that answers with the given addresses only (the host name stays for Host and TLS). */
function pinnedLookup(addresses: ResolvedAddress[]): LookupFunction {
  return (hostname, options, callback) => {
    const family = typeof options === 'object' ? options.family : options;
    const wanted = family === 4 || family === 6 ? addresses.filter((a) => a.family === family) : addresses;
    if (wanted.length === 0) {
      const error = Object.assign(new Error(`no checked address of ${hostname} for IPv${family}`), {
        code: 'ENOTFOUND',
      });
      callback(error, '', 0);
      return;
    }
    if (typeof options === 'object' && options.all) callback(null, wanted);
    else callback(null, wanted[0]!.address, wanted[0]!.family);
  };
}

/**
 * POSTs a webhook: no redirect is followed, no connection kept. Resolves with the receiver's
 * status once its headers arrive (the body is read and dropped); rejects when no answer came
 * within `timeoutMs` or the connection failed.
 */
export function postWebhook(request: WebhookRequest): Promise<WebhookResponse> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const settle = (done: () => void): void => {
      if (settled) return;
      settled = true;
      done();
    };
    const client = request.url.protocol === 'https:' ? https : http;
    const outgoing = client.request(
      request.url,
      {
        method: 'POST',
        headers: { ...request.headers, 'content-length': String(Buffer.byteLength(request.body)) },
        agent: false,
        ...(request.addresses ? { lookup: pinnedLookup(request.addresses) } : {}),
      },
      (response) => {
        const retryAfter = response.headers['retry-after'];
        settle(() => resolve({ statusCode: response.statusCode ?? 0, retryAfter }));
        response.on('error', () => undefined);
        response.on('end', () => clearTimeout(timer));
        response.resume();
      },
    );
    const timer = setTimeout(() => {
      outgoing.destroy(new Error(`no answer within ${request.timeoutMs / 1000} s`));
    }, request.timeoutMs);
    outgoing.on('error', (error) => {
      clearTimeout(timer);
      settle(() => reject(error));
    });
    outgoing.on('close', () => clearTimeout(timer));
    outgoing.end(request.body);
  });
}

/** A Retry-After header (delay seconds or an HTTP date) in milliseconds from `now`, or null. */
export function retryAfterMs(header: string | undefined, now = Date.now()): number | null {
  if (header === undefined) return null;
  const text = header.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}
