import { once } from 'node:events';
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import { Agent, request } from 'undici';
import type { CallReading, Dialect } from './dialects';
import { SseSplitter } from './sse';

/**
 * One connection pool for every upstream. Generous timeouts: a reasoning model may think for
 * minutes before its first byte, and a stream may pause as long between events.
 */
const upstreamAgent = new Agent({ headersTimeout: 600_000, bodyTimeout: 600_000, keepAliveTimeout: 30_000 });

/** Request headers that describe this hop, or are Tokentally's own: never sent on. */
const NOT_FORWARDED = new Set([
  'host',
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authorization',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'expect',
  'content-length',
  // the body goes on decoded (content-encoding.ts decodes it), and comes back unencoded
  'content-encoding',
  'accept-encoding',
  'x-tokentally-key',
  'x-tokentally-user',
]);

/** Response headers of the upstream hop alone. */
const HOP_RESPONSE = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'trailer',
  'upgrade',
]);

/** The client's headers as the upstream gets them: its provider key untouched, the hop's own left out. */
export function forwardedHeaders(headers: IncomingHttpHeaders): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !NOT_FORWARDED.has(name)) out[name] = value;
  }
  // undici would otherwise ask for compression, which the proxy would have to undo to read usage
  out['accept-encoding'] = 'identity';
  return out;
}

/** How a forwarded call ended, as seen by the proxy. */
export interface ForwardResult {
  /** the upstream's status; null when it was never reached */
  status: number | null;
  reading: CallReading;
  /** the stream ended before the upstream finished it (client gone, upstream broke) */
  cutShort: boolean;
  /** why the call failed, when it did */
  failure?: string;
  /** the generated text seen before a cut, for the tokenizer */
  generatedText: string;
}

export interface ForwardRequest {
  url: string;
  headers: Record<string, string | string[]>;
  body: Buffer;
  dialect: Dialect;
  stripUsage: boolean;
  /** the client's response, written to directly */
  raw: ServerResponse;
  /** what to answer when the upstream cannot be reached (the provider's error shape) */
  unreachable(message: string): { status: number; body: object };
}

/** Most of an error body or a JSON response the proxy keeps to read; the client gets all of it. */
const MAX_READ_BYTES = 16 * 1024 * 1024;

/**
 * Forwards one call and passes the answer through as it arrives: every chunk is written to
 * the client's socket as soon as it comes (a stream is never buffered), waiting while the
 * client's socket is full (backpressure, so a slow client slows the upstream instead of
 * growing memory). A client that goes away aborts the upstream request. Event streams are
 * read alongside for their id, model and usage; the usage chunk the proxy asked for alone is
 * kept from the client.
 */
export async function forward(call: ForwardRequest): Promise<ForwardResult> {
  const { raw } = call;
  const controller = new AbortController();
  let clientGone = false;
  const onClose = (): void => {
    if (!raw.writableFinished) {
      clientGone = true;
      controller.abort();
    }
  };
  raw.on('close', onClose);
  try {
    return await pass(call, controller.signal, () => clientGone);
  } catch (error) {
    const message = clientGone ? 'client disconnected' : `upstream unreachable: ${(error as Error).message}`;
    if (!raw.headersSent && !clientGone) {
      const answer = call.unreachable(message);
      raw.writeHead(answer.status, { 'content-type': 'application/json' });
      raw.end(JSON.stringify(answer.body));
    } else if (!raw.writableEnded) {
      raw.destroy();
    }
    return { status: null, reading: {}, cutShort: clientGone, failure: message, generatedText: '' };
  } finally {
    raw.off('close', onClose);
  }
}

async function pass(call: ForwardRequest, signal: AbortSignal, clientGone: () => boolean): Promise<ForwardResult> {
  const { raw, dialect } = call;
  const upstream = await request(call.url, {
    method: 'POST',
    headers: call.headers,
    body: call.body,
    signal,
    dispatcher: upstreamAgent,
  });
  const contentType = String(upstream.headers['content-type'] ?? '');
  const streaming = upstream.statusCode < 300 && contentType.startsWith('text/event-stream');
  const strip = streaming && call.stripUsage;

  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(upstream.headers)) {
    if (value !== undefined && !HOP_RESPONSE.has(name) && !(strip && name === 'content-length')) headers[name] = value;
  }
  raw.writeHead(upstream.statusCode, headers);
  // the status line and headers go out now, not with the first chunk
  raw.flushHeaders();

  const watcher = streaming ? dialect.watch(strip) : undefined;
  const splitter = streaming ? new SseSplitter() : undefined;
  const decoder = new TextDecoder();
  const kept: Buffer[] = [];
  let keptBytes = 0;
  let cutShort = false;
  let broke: string | undefined;
  try {
    for await (const chunk of upstream.body as AsyncIterable<Buffer>) {
      if (clientGone()) break;
      let out: Buffer | string | undefined = chunk;
      if (splitter && watcher) {
        const events = splitter.push(decoder.decode(chunk, { stream: true }));
        if (strip) {
          // whole events only: the usage chunk must be recognised before anything of it is sent
          out = '';
          for (const event of events) if (watcher.see(event)) out += event.raw;
        } else {
          // sent first, read after: reading never delays a byte
          if (!raw.write(chunk)) await drained(raw, clientGone);
          for (const event of events) watcher.see(event);
          continue;
        }
      } else if (keptBytes < MAX_READ_BYTES) {
        kept.push(chunk);
        keptBytes += chunk.length;
      }
      if (out.length > 0 && !raw.write(out)) await drained(raw, clientGone);
    }
  } catch (error) {
    // the upstream broke off mid-answer: the client's answer is cut too, so it sees the break
    if (!clientGone()) {
      raw.destroy();
      broke = `upstream broke off: ${(error as Error).message}`;
    }
    cutShort = true;
  }
  if (clientGone()) cutShort = true;
  if (!cutShort) {
    if (splitter && watcher) {
      for (const event of splitter.finish()) {
        if (watcher.see(event) && strip) raw.write(event.raw);
      }
      // an unfinished event at the end: clients drop it, but it is theirs to drop
      if (strip && splitter.rest().length > 0) raw.write(splitter.rest());
    }
    raw.end();
  }

  const status = upstream.statusCode;
  if (watcher) {
    const reading = watcher.reading();
    return {
      status,
      reading,
      cutShort,
      failure: broke ?? (cutShort ? 'client disconnected' : reading.error),
      generatedText: watcher.generatedText(),
    };
  }
  const body = Buffer.concat(kept).toString('utf8');
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    parsed = undefined;
  }
  if (status >= 300) {
    // an error has no response id; the provider's request id names the call in its logs
    const requestId = upstream.headers['x-request-id'] ?? upstream.headers['request-id'];
    return {
      status,
      reading: { responseId: typeof requestId === 'string' && requestId !== '' ? requestId : undefined },
      cutShort,
      failure: upstreamErrorMessage(status, parsed, body),
      generatedText: '',
    };
  }
  if (cutShort) return { status, reading: {}, cutShort, failure: broke ?? 'client disconnected', generatedText: '' };
  return { status, reading: dialect.fromJson(parsed), cutShort, generatedText: '' };
}

/** Waits until the client's socket takes data again, or the client is gone. */
async function drained(raw: ServerResponse, clientGone: () => boolean): Promise<void> {
  if (clientGone()) return;
  await Promise.race([once(raw, 'drain'), once(raw, 'close')]);
}

function upstreamErrorMessage(status: number, parsed: unknown, body: string): string {
  const error = (parsed as { error?: { message?: unknown; type?: unknown } } | undefined)?.error;
  const detail =
    typeof error?.message === 'string'
      ? error.message
      : typeof error?.type === 'string'
        ? error.type
        : body.slice(0, 200);
  return `upstream ${status}: ${detail}`.slice(0, 2000);
}
