import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import {
  createServer as createHttp2Server,
  type Http2Server,
  type Http2ServerRequest,
  type Http2ServerResponse,
} from 'node:http2';
import type { AddressInfo } from 'node:net';
import Anthropic from '@anthropic-ai/sdk';
import { BedrockRuntimeClient, ConverseCommand } from '@aws-sdk/client-bedrock-runtime';
import { GoogleGenAI } from '@google/genai';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readProviderResponse } from '../../src/domain/provider-usage';
import {
  anthropicMessage,
  anthropicStream,
  bedrockConverse,
  geminiResponse,
  geminiStream,
  openaiChatCompletion,
  openaiChatStream,
  openaiResponse,
  openaiResponsesStream,
} from '../fixtures/provider-responses';

/**
 * What each provider's own SDK hands its caller — parsed from the fixtures served on
 * loopback in the provider's wire format, streams included — is what the mapping reads, with
 * the same numbers as the fixtures themselves. A stream accumulated by the SDK (Anthropic's
 * MessageStream, OpenAI's Responses stream) must map like the list of its events.
 */
let server: Server;
let url: string;
/** Bedrock's client speaks HTTP/2 only (cleartext here) */
let http2Server: Http2Server;
let http2Url: string;

/** Server-sent events as the providers send them: `event:` named after the type where events have one. */
const sse = (events: readonly object[], done = false) =>
  events
    .map((event) => {
      const { type } = event as { type?: unknown };
      return `${typeof type === 'string' ? `event: ${type}\n` : ''}data: ${JSON.stringify(event)}\n\n`;
    })
    .join('') + (done ? 'data: [DONE]\n\n' : '');

/** Answers each API's path with its fixture, streamed when the request asks for a stream. */
function answer(req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse): void {
  let raw = '';
  req.on('data', (chunk: Buffer) => (raw += chunk.toString()));
  req.on('end', () => {
    const body = raw ? (JSON.parse(raw) as { stream?: boolean }) : {};
    const path = req.url ?? '';
    const json = (value: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(200, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(value));
    };
    const stream = (text: string) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end(text);
    };
    if (path === '/v1/chat/completions')
      return body.stream ? stream(sse(openaiChatStream, true)) : json(openaiChatCompletion);
    if (path === '/v1/responses') return body.stream ? stream(sse(openaiResponsesStream)) : json(openaiResponse);
    if (path === '/v1/messages') return body.stream ? stream(sse(anthropicStream)) : json(anthropicMessage);
    if (path.includes(':streamGenerateContent')) return stream(sse(geminiStream));
    if (path.includes(':generateContent')) return json(geminiResponse);
    if (path.endsWith('/converse')) {
      const { $metadata, ...wire } = bedrockConverse;
      return json(wire, { 'x-amzn-requestid': $metadata.requestId });
    }
    res.writeHead(404);
    res.end();
  });
}

beforeAll(async () => {
  server = createServer(answer);
  http2Server = createHttp2Server(answer);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  await new Promise<void>((resolve) => http2Server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  http2Url = `http://127.0.0.1:${(http2Server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await new Promise<void>((resolve) => http2Server.close(() => resolve()));
});

const tokensOf = (body: unknown) => {
  const read = readProviderResponse(body);
  if (!read.ok) throw new Error(`${read.path}: ${read.message}`);
  return { requestId: read.requestId, model: read.model, tokens: read.tokens };
};

describe('bodies as the SDKs hand them over', () => {
  it('openai: a chat completion, and the chunks of a stream asked with include_usage', async () => {
    const client = new OpenAI({ apiKey: 'sk-test', baseURL: `${url}/v1`, maxRetries: 0 });
    const completion = await client.chat.completions.create({
      model: 'o4-mini',
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(tokensOf(completion)).toEqual(tokensOf(openaiChatCompletion));
    const chunks = [];
    const stream = await client.chat.completions.create({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks).toHaveLength(4);
    expect(tokensOf(chunks)).toEqual(tokensOf(openaiChatStream));
    expect(tokensOf(chunks).tokens).toMatchObject({ inputTokens: 1_530, outputTokens: 12, cachedInputTokens: 1_280 });
  });

  it('openai: a Responses response, its stream events, and the response the SDK assembles from them', async () => {
    const client = new OpenAI({ apiKey: 'sk-test', baseURL: `${url}/v1`, maxRetries: 0 });
    const response = await client.responses.create({ model: 'gpt-5', input: 'hi' });
    expect(tokensOf(response)).toEqual(tokensOf(openaiResponse));
    const events = [];
    for await (const event of await client.responses.create({ model: 'gpt-5', input: 'hi', stream: true }))
      events.push(event);
    expect(tokensOf(events)).toEqual(tokensOf(openaiResponse));
    const final = await client.responses.stream({ model: 'gpt-5', input: 'hi' }).finalResponse();
    expect(tokensOf(final)).toEqual(tokensOf(openaiResponse));
  });

  it('anthropic: a message, and the message its MessageStream accumulates (cumulative output taken, never added)', async () => {
    const client = new Anthropic({ apiKey: 'sk-ant-test', baseURL: url, maxRetries: 0 });
    const params = {
      model: 'claude-sonnet-4-5',
      max_tokens: 1024,
      messages: [{ role: 'user' as const, content: 'hi' }],
    };
    const message = await client.messages.create(params);
    expect(tokensOf(message)).toEqual(tokensOf(anthropicMessage));
    const events = [];
    for await (const event of await client.messages.create({ ...params, stream: true })) events.push(event);
    const final = await client.messages.stream(params).finalMessage();
    // the SDK's own accumulation, our merge of the raw events, and the unstreamed message agree
    expect(tokensOf(final)).toEqual(tokensOf(anthropicMessage));
    expect(tokensOf(events)).toEqual(tokensOf(anthropicMessage));
    expect(tokensOf(final).tokens).toEqual({
      inputTokens: 14_512,
      outputTokens: 940,
      cachedInputTokens: 12_400,
      cacheWriteTokens: 1_800,
      cacheWrite1hTokens: 1_800,
      reasoningTokens: 610,
    });
  });

  it('gemini: a generateContent response and the chunks of its stream (SDK class instances)', async () => {
    const client = new GoogleGenAI({ apiKey: 'test', httpOptions: { baseUrl: url } });
    const response = await client.models.generateContent({ model: 'gemini-2.5-flash', contents: 'hi' });
    expect(tokensOf(response)).toEqual(tokensOf(geminiResponse));
    const chunks = [];
    for await (const chunk of await client.models.generateContentStream({ model: 'gemini-2.5-pro', contents: 'hi' })) {
      chunks.push(chunk);
    }
    expect(tokensOf(chunks)).toEqual(tokensOf(geminiStream));
    expect(tokensOf(chunks).tokens).toMatchObject({ inputTokens: 812, outputTokens: 466, reasoningTokens: 402 });
  });

  it('bedrock: a Converse output, its request id read by the SDK from the response header', async () => {
    const client = new BedrockRuntimeClient({
      region: 'us-east-1',
      endpoint: http2Url,
      credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'test' },
      maxAttempts: 1,
    });
    const output = await client.send(
      new ConverseCommand({
        modelId: 'anthropic.claude-sonnet-4-5-20250929-v1:0',
        messages: [{ role: 'user', content: [{ text: 'hi' }] }],
      }),
    );
    expect(tokensOf(output)).toEqual(tokensOf(bedrockConverse));
    expect(tokensOf(output).requestId).toBe(bedrockConverse.$metadata.requestId);
    client.destroy();
  });
});
