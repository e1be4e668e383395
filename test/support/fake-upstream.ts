import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A fake OpenAI and Anthropic API on loopback that speaks each wire format: JSON answers,
 * server-sent event streams and error bodies, with fixed usage so that stored numbers are
 * exact. A request's `x-fake` header picks a scenario:
 * - (none): a normal answer, streamed when the body says `stream: true`;
 * - `error`: 429 in the provider's error shape;
 * - `slow`: a stream of 200 text events, one every 10 ms (for clients that leave early);
 * - `paced`: a stream of 20 text events, one every 25 ms (a model generating; for the bench);
 * - `gate`: a stream whose first event comes at once, the rest only after `openGate()`;
 * - `break`: a stream the upstream breaks off after two events.
 */
export interface FakeUpstream {
  url: string;
  /** every request received: path, headers, parsed body and the body's text as it came */
  received: Array<{ path: string; headers: IncomingHttpHeaders; body: Record<string, unknown>; text: string }>;
  /** streams whose client (the proxy) went away before the end */
  aborted: number;
  openGate(): void;
  close(): Promise<void>;
}

export const FAKE = {
  chat: {
    model: 'gpt-4o-2024-08-06',
    text: ['Hello', ' from', ' the', ' fake', ' upstream.'],
    usage: {
      prompt_tokens: 12,
      completion_tokens: 7,
      total_tokens: 19,
      prompt_tokens_details: { cached_tokens: 4, audio_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 2, audio_tokens: 0 },
    },
  },
  responses: {
    model: 'gpt-4.1-2025-04-14',
    text: ['Responses', ' API', ' says', ' hi.'],
    usage: {
      input_tokens: 30,
      input_tokens_details: { cached_tokens: 10 },
      output_tokens: 9,
      output_tokens_details: { reasoning_tokens: 3 },
      total_tokens: 39,
    },
  },
  embeddings: { model: 'text-embedding-3-small', usage: { prompt_tokens: 8, total_tokens: 8 } },
  anthropic: {
    model: 'claude-sonnet-4-20250514',
    text: ['Claude', ' here', '.'],
    // disjoint buckets: our input = 20 + 5 + 100 = 125
    startUsage: { input_tokens: 20, cache_creation_input_tokens: 5, cache_read_input_tokens: 100, output_tokens: 1 },
    /** cumulative: the last (15) counts, never the sum */
    deltaUsage: [{ output_tokens: 6 }, { output_tokens: 15 }],
  },
} as const;

let sequence = 0;

const EMBEDDING = [0.5, -0.25, 0.125];
const EMBEDDING_BASE64 = Buffer.from(new Float32Array(EMBEDDING).buffer).toString('base64');

/** `remember: false` keeps no request (a long bench would otherwise hold every one it sent). */
export async function startFakeUpstream(options: { remember?: boolean } = {}): Promise<FakeUpstream> {
  const remember = options.remember ?? true;
  const received: FakeUpstream['received'] = [];
  let gateOpen: () => void = () => undefined;
  let gate = new Promise<void>((resolve) => (gateOpen = resolve));
  const fake: FakeUpstream = {
    url: '',
    received,
    aborted: 0,
    openGate: () => {
      gateOpen();
      gate = new Promise<void>((resolve) => (gateOpen = resolve));
    },
    close: async () => undefined,
  };

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const body = JSON.parse(text || '{}') as Record<string, unknown>;
      const path = req.url ?? '';
      if (remember) received.push({ path, headers: req.headers, body, text });
      const scenario = String(req.headers['x-fake'] ?? '');
      res.on('close', () => {
        if (!res.writableFinished) fake.aborted += 1;
      });
      void answer(path, body, scenario, res, () => gate).catch(() => res.destroy());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  fake.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  fake.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return fake;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

async function answer(
  path: string,
  body: Record<string, unknown>,
  scenario: string,
  res: ServerResponse,
  gate: () => Promise<void>,
): Promise<void> {
  sequence += 1;
  const anthropic = path.startsWith('/v1/messages');
  if (scenario === 'error') {
    return anthropic
      ? json(
          res,
          429,
          { type: 'error', error: { type: 'rate_limit_error', message: 'fake upstream: slow down' } },
          { 'request-id': `req_fake_${sequence}` },
        )
      : json(
          res,
          429,
          {
            error: { message: 'fake upstream: slow down', type: 'requests', param: null, code: 'rate_limit_exceeded' },
          },
          { 'x-request-id': `req_fake_${sequence}` },
        );
  }
  if (path.startsWith('/v1/embeddings')) {
    return json(res, 200, {
      object: 'list',
      // the SDK asks for base64 (little-endian float32) and decodes it
      data: [
        { object: 'embedding', index: 0, embedding: body.encoding_format === 'base64' ? EMBEDDING_BASE64 : EMBEDDING },
      ],
      model: FAKE.embeddings.model,
      usage: FAKE.embeddings.usage,
    });
  }
  const events = path.startsWith('/v1/chat/completions')
    ? chatEvents(body, scenario)
    : path.startsWith('/v1/responses')
      ? responsesEvents(scenario)
      : anthropicEvents(scenario);
  if (body.stream !== true) return json(res, 200, events.whole);

  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  res.flushHeaders();
  for (let i = 0; i < events.stream.length; i += 1) {
    if (res.destroyed) return;
    res.write(events.stream[i]);
    if (scenario === 'gate' && i === 0) await gate();
    if (scenario === 'slow') await sleep(10);
    if (scenario === 'paced') await sleep(25);
    if (scenario === 'break' && i === 1) {
      res.destroy();
      return;
    }
  }
  res.end();
}

const sse = (data: unknown, event?: string): string =>
  `${event ? `event: ${event}\n` : ''}data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`;

function texts(base: readonly string[], scenario: string): string[] {
  if (scenario === 'paced') return Array.from({ length: 20 }, (_, i) => ` word${i}`);
  return scenario === 'slow' ? Array.from({ length: 200 }, (_, i) => ` word${i}`) : [...base];
}

function chatEvents(body: Record<string, unknown>, scenario: string): { whole: unknown; stream: string[] } {
  const id = `chatcmpl-fake-${sequence}`;
  const created = 1_764_000_000;
  const parts = texts(FAKE.chat.text, scenario);
  const includeUsage = (body.stream_options as { include_usage?: boolean } | undefined)?.include_usage === true;
  const chunk = (delta: object, finish: string | null) => ({
    id,
    object: 'chat.completion.chunk',
    created,
    model: FAKE.chat.model,
    choices: [{ index: 0, delta, finish_reason: finish, logprobs: null }],
    ...(includeUsage ? { usage: null } : {}),
  });
  const stream = [
    sse(chunk({ role: 'assistant', content: '' }, null)),
    ...parts.map((text) => sse(chunk({ content: text }, null))),
    sse(chunk({}, 'stop')),
    ...(includeUsage
      ? [
          sse({
            id,
            object: 'chat.completion.chunk',
            created,
            model: FAKE.chat.model,
            choices: [],
            usage: FAKE.chat.usage,
          }),
        ]
      : []),
    sse('[DONE]'),
  ];
  const whole = {
    id,
    object: 'chat.completion',
    created,
    model: FAKE.chat.model,
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: parts.join(''), refusal: null },
        finish_reason: 'stop',
        logprobs: null,
      },
    ],
    usage: FAKE.chat.usage,
  };
  return { whole, stream };
}

function responsesEvents(scenario: string): { whole: unknown; stream: string[] } {
  const id = `resp_fake_${sequence}`;
  const parts = texts(FAKE.responses.text, scenario);
  const response = (status: string, usage: unknown, text: string) => ({
    id,
    object: 'response',
    created_at: 1_764_000_000,
    status,
    model: FAKE.responses.model,
    output:
      text === ''
        ? []
        : [
            {
              id: `msg_${sequence}`,
              type: 'message',
              role: 'assistant',
              status: 'completed',
              content: [{ type: 'output_text', text, annotations: [] }],
            },
          ],
    usage,
  });
  let n = 0;
  const stream = [
    sse({ type: 'response.created', sequence_number: n++, response: response('in_progress', null, '') }),
    ...parts.map((delta) =>
      sse({
        type: 'response.output_text.delta',
        sequence_number: n++,
        item_id: `msg_${sequence}`,
        output_index: 0,
        content_index: 0,
        delta,
      }),
    ),
    sse({
      type: 'response.completed',
      sequence_number: n++,
      response: response('completed', FAKE.responses.usage, parts.join('')),
    }),
  ];
  return { whole: response('completed', FAKE.responses.usage, parts.join('')), stream };
}

function anthropicEvents(scenario: string): { whole: unknown; stream: string[] } {
  const id = `msg_fake_${sequence}`;
  const parts = texts(FAKE.anthropic.text, scenario);
  const message = (content: unknown[], usage: object, stop: string | null) => ({
    id,
    type: 'message',
    role: 'assistant',
    model: FAKE.anthropic.model,
    content,
    stop_reason: stop,
    stop_sequence: null,
    usage,
  });
  const stream = [
    sse({ type: 'message_start', message: message([], FAKE.anthropic.startUsage, null) }, 'message_start'),
    sse({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }, 'content_block_start'),
    ...parts.map((text) =>
      sse({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text } }, 'content_block_delta'),
    ),
    sse({ type: 'content_block_stop', index: 0 }, 'content_block_stop'),
    ...FAKE.anthropic.deltaUsage.map((usage, i) =>
      sse(
        {
          type: 'message_delta',
          delta: { stop_reason: i === FAKE.anthropic.deltaUsage.length - 1 ? 'end_turn' : null, stop_sequence: null },
          usage,
        },
        'message_delta',
      ),
    ),
    sse({ type: 'message_stop' }, 'message_stop'),
  ];
  const last = FAKE.anthropic.deltaUsage[FAKE.anthropic.deltaUsage.length - 1]!;
  const whole = message(
    [{ type: 'text', text: parts.join('') }],
    { ...FAKE.anthropic.startUsage, ...last },
    'end_turn',
  );
  return { whole, stream };
}

/**
 * A streamed chat completion through the proxy that the fake upstream holds after its first
 * event until `openGate()`: headers and body for `POST /proxy/openai/v1/chat/completions`.
 */
export function gatedChatCall(
  tokentallyKey: string,
  userId: string,
): { headers: Record<string, string>; body: string } {
  return {
    headers: {
      'content-type': 'application/json',
      authorization: 'Bearer sk-provider',
      'x-tokentally-key': tokentallyKey,
      'x-tokentally-user': userId,
      'x-fake': 'gate',
    },
    body: JSON.stringify({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'go' }],
      max_tokens: 20,
      stream: true,
    }),
  };
}
