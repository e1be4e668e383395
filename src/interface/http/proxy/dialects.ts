import { mapProviderUsage, type ProviderUsageFormat } from '../../../domain/provider-usage';
import type { TokenUsage } from '../../../domain/token-usage';
import type { SseEvent } from './sse';

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const text = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);
const count = (value: unknown): number | undefined =>
  typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : undefined;

/**
 * Output a reservation holds when the request names no maximum (as LiteLLM does); where that
 * does not fit the user's budget but the prompt does, what is left is held instead
 * (meter-proxied-call.ts).
 */
export const DEFAULT_MAX_OUTPUT_TOKENS = 16_384;

/** What the proxy reads from a request body before forwarding it. */
export interface RequestFacts {
  model?: string;
  /** the request's own user field */
  user?: string;
  stream: boolean;
  /** the prompt's text, for the tokenizer */
  promptText: string;
  /** the most output the call may produce, over all its choices */
  maxOutputTokens: number;
  /** false when the request names no maximum and maxOutputTokens is the default guess */
  outputStated: boolean;
}

/** What a call said about itself: from a JSON body, or a stream's events so far. */
export interface CallReading {
  responseId?: string;
  model?: string;
  /** tokens as the provider reported them; absent: it reported none (yet) */
  tokens?: TokenUsage;
  /** an error the provider reported inside a stream */
  error?: string;
}

/** Follows one stream event by event. */
export interface StreamWatcher {
  /** Sees one event; false keeps it from the client. */
  see(event: SseEvent): boolean;
  reading(): CallReading;
  /** the text generated so far, for the tokenizer when the stream ends before its usage */
  generatedText(): string;
}

/** One provider API the proxy speaks. */
export interface Dialect {
  provider: 'openai' | 'anthropic';
  operation: string;
  inspect(body: Json): RequestFacts;
  /**
   * The body to forward when it must differ from the client's: a streamed chat call is asked
   * for its usage chunk. `stripUsage`: the client did not ask for it, so it is kept from them.
   */
  /** The body to send instead of `raw`, when the proxy must amend it; null: `raw` as it came. */
  prepare(body: Json, raw: Buffer): { body: Buffer; stripUsage: boolean } | null;
  fromJson(body: unknown): CallReading;
  watch(stripUsage: boolean): StreamWatcher;
}

/** Keys whose strings are no prompt text: structure (roles, part types), or base64 images and audio. */
const NOT_PROMPT_TEXT = new Set(['role', 'type', 'image_url', 'data', 'file_data', 'cache_control']);

/** Every string inside a value, joined: the prompt's text, whatever its shape (parts, tools, system blocks). */
function strings(value: unknown, into: string[] = []): string[] {
  if (typeof value === 'string') into.push(value);
  else if (Array.isArray(value)) for (const item of value) strings(item, into);
  else if (isObject(value)) {
    for (const [key, item] of Object.entries(value)) {
      if (!NOT_PROMPT_TEXT.has(key)) strings(item, into);
    }
  }
  return into;
}

/**
 * The body with `stream_options` set. Without one in it, the member is written in front of
 * the others and every byte the client sent goes on as it came (re-serialising would round an
 * integer past 2^53, such as a `seed`, through a double); with one, the body is written anew.
 */
function withStreamOptions(body: Json, raw: Buffer, options: Json): Buffer {
  const member = `"stream_options":${JSON.stringify(options)}`;
  if (Object.hasOwn(body, 'stream_options')) return Buffer.from(JSON.stringify({ ...body, stream_options: options }));
  const text = raw.toString('utf8');
  // a JSON object: whitespace, then its opening brace
  const open = text.indexOf('{');
  const empty = /^\s*}/.test(text.slice(open + 1));
  return Buffer.from(`${text.slice(0, open + 1)}${member}${empty ? '' : ','}${text.slice(open + 1)}`);
}

function tokensOf(format: ProviderUsageFormat, usage: unknown): TokenUsage | undefined {
  const mapped = mapProviderUsage(format, usage);
  return mapped.ok ? mapped.tokens : undefined;
}

function parseData(event: SseEvent): Json | undefined {
  if (event.data === '' || event.data === '[DONE]') return undefined;
  try {
    const parsed: unknown = JSON.parse(event.data);
    return isObject(parsed) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

function errorMessage(error: unknown): string {
  if (isObject(error)) return text(error.message) ?? text(error.type) ?? JSON.stringify(error);
  return text(error) ?? 'error';
}

const choices = (body: Json): number => Math.max(1, count(body.n) ?? 1);

const openaiChat: Dialect = {
  provider: 'openai',
  operation: 'chat',
  inspect(body) {
    const max = count(body.max_completion_tokens) ?? count(body.max_tokens);
    return {
      model: text(body.model),
      user: text(body.user),
      stream: body.stream === true,
      promptText: strings([body.messages, body.tools, body.functions]).join('\n'),
      maxOutputTokens: (max ?? DEFAULT_MAX_OUTPUT_TOKENS) * choices(body),
      outputStated: max !== undefined,
    };
  },
  prepare(body, raw) {
    if (body.stream !== true) return null;
    const options = isObject(body.stream_options) ? body.stream_options : {};
    if (options.include_usage === true) return null;
    return { body: withStreamOptions(body, raw, { ...options, include_usage: true }), stripUsage: true };
  },
  fromJson(body) {
    if (!isObject(body)) return {};
    return { responseId: text(body.id), model: text(body.model), tokens: tokensOf('openai.chat', body.usage) };
  },
  watch(stripUsage) {
    const reading: CallReading = {};
    const generated: string[] = [];
    return {
      see(event) {
        const chunk = parseData(event);
        if (!chunk) return true;
        if (chunk.error !== undefined) reading.error = errorMessage(chunk.error);
        reading.responseId ??= text(chunk.id);
        reading.model ??= text(chunk.model);
        if (Array.isArray(chunk.choices)) {
          for (const choice of chunk.choices) {
            const delta = isObject(choice) ? choice.delta : undefined;
            if (isObject(delta))
              strings([delta.content, delta.refusal, delta.reasoning_content, delta.tool_calls], generated);
          }
        }
        if (isObject(chunk.usage)) {
          reading.tokens = tokensOf('openai.chat', chunk.usage);
          // the chunk the proxy asked for: no choices, only usage
          if (stripUsage && Array.isArray(chunk.choices) && chunk.choices.length === 0) return false;
        }
        return true;
      },
      reading: () => reading,
      generatedText: () => generated.join(''),
    };
  },
};

/** Events whose `response` is the finished response, usage included. */
const RESPONSE_DONE = new Set(['response.completed', 'response.incomplete', 'response.failed']);

const openaiResponses: Dialect = {
  provider: 'openai',
  operation: 'responses',
  inspect(body) {
    return {
      model: text(body.model),
      user: text(body.user),
      stream: body.stream === true,
      promptText: strings([body.instructions, body.input, body.tools]).join('\n'),
      maxOutputTokens: count(body.max_output_tokens) ?? DEFAULT_MAX_OUTPUT_TOKENS,
      outputStated: count(body.max_output_tokens) !== undefined,
    };
  },
  prepare: () => null,
  fromJson(body) {
    if (!isObject(body)) return {};
    return { responseId: text(body.id), model: text(body.model), tokens: tokensOf('openai.responses', body.usage) };
  },
  watch() {
    const reading: CallReading = {};
    const generated: string[] = [];
    return {
      see(event) {
        const data = parseData(event);
        if (!data) return true;
        const type = text(data.type) ?? event.event;
        if (type === 'error') reading.error = errorMessage(data.error ?? data);
        if (isObject(data.response)) {
          reading.responseId ??= text(data.response.id);
          reading.model ??= text(data.response.model);
          if (type !== undefined && RESPONSE_DONE.has(type)) {
            reading.tokens = tokensOf('openai.responses', data.response.usage);
            if (type === 'response.failed') reading.error = errorMessage(data.response.error ?? 'response failed');
          }
        }
        if (typeof data.delta === 'string') generated.push(data.delta);
        return true;
      },
      reading: () => reading,
      generatedText: () => generated.join(''),
    };
  },
};

const openaiEmbeddings: Dialect = {
  provider: 'openai',
  operation: 'embeddings',
  inspect(body) {
    return {
      model: text(body.model),
      user: text(body.user),
      stream: false,
      promptText: strings(body.input).join('\n'),
      maxOutputTokens: 0,
      outputStated: true,
    };
  },
  prepare: () => null,
  fromJson(body) {
    if (!isObject(body)) return {};
    // embeddings report chat's usage without output (openai.chat reads it so)
    return { model: text(body.model), tokens: tokensOf('openai.chat', body.usage) };
  },
  watch: () => openaiChat.watch(false),
};

const anthropicMessages: Dialect = {
  provider: 'anthropic',
  operation: 'chat',
  inspect(body) {
    const metadata = isObject(body.metadata) ? body.metadata : {};
    return {
      model: text(body.model),
      user: text(metadata.user_id),
      stream: body.stream === true,
      promptText: strings([body.system, body.messages, body.tools]).join('\n'),
      maxOutputTokens: count(body.max_tokens) ?? DEFAULT_MAX_OUTPUT_TOKENS,
      outputStated: count(body.max_tokens) !== undefined,
    };
  },
  prepare: () => null,
  fromJson(body) {
    if (!isObject(body)) return {};
    return { responseId: text(body.id), model: text(body.model), tokens: tokensOf('anthropic.messages', body.usage) };
  },
  watch() {
    const reading: CallReading = {};
    const generated: string[] = [];
    // message_start's usage, then each message_delta's fields over it: they are running
    // totals, so the last value of a field counts and values are never added
    let usage: Json | undefined;
    return {
      see(event) {
        const data = parseData(event);
        if (!data) return true;
        const type = text(data.type) ?? event.event;
        if (type === 'message_start' && isObject(data.message)) {
          reading.responseId ??= text(data.message.id);
          reading.model ??= text(data.message.model);
          if (isObject(data.message.usage)) usage = { ...data.message.usage };
        } else if (type === 'message_delta' && isObject(data.usage)) {
          usage ??= {};
          for (const [key, value] of Object.entries(data.usage)) if (value !== null) usage[key] = value;
        } else if (type === 'message_stop' && usage) {
          reading.tokens = tokensOf('anthropic.messages', usage);
        } else if (type === 'content_block_delta' && isObject(data.delta)) {
          strings([data.delta.text, data.delta.partial_json, data.delta.thinking], generated);
        } else if (type === 'error') {
          reading.error = errorMessage(data.error ?? data);
        }
        return true;
      },
      reading: () => reading,
      generatedText: () => generated.join(''),
    };
  },
};

/** The proxy's routes: the path under each provider's prefix, and the dialect it speaks. */
export const PROXY_ROUTES = [
  { provider: 'openai', path: '/v1/chat/completions', dialect: openaiChat, name: 'Chat Completions' },
  { provider: 'openai', path: '/v1/responses', dialect: openaiResponses, name: 'Responses' },
  { provider: 'openai', path: '/v1/embeddings', dialect: openaiEmbeddings, name: 'Embeddings' },
  { provider: 'anthropic', path: '/v1/messages', dialect: anthropicMessages, name: 'Messages' },
] as const;
