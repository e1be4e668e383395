import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countTokens } from '../../src/infrastructure/tokenizer';
import { FAKE, gatedChatCall, startFakeUpstream, type FakeUpstream } from '../support/fake-upstream';
import { planFor } from '../support/quotas';
import { bearer, createTestApp, type TestApp } from '../support/test-app';

const PROVIDER_KEY = 'sk-provider-secret-never-stored';

interface StoredRecord {
  request_id: string;
  user_id: string;
  provider: string;
  model: string;
  operation: string;
  input_tokens: number;
  output_tokens: number;
  cached_input_tokens: number;
  cache_write_tokens: number;
  reasoning_tokens: number;
  total_tokens: number;
  success: boolean;
  error: string | null;
  token_source: string;
  duration_ms: number;
}

describe('the OpenAI- and Anthropic-compatible proxy', () => {
  let t: TestApp;
  let fake: FakeUpstream;
  let base: string;
  let key: string;
  let admin: Record<string, string>;

  const openai = (user = 'alice', extra: Record<string, string> = {}) =>
    new OpenAI({
      apiKey: PROVIDER_KEY,
      baseURL: `${base}/proxy/openai/v1`,
      defaultHeaders: { 'X-Tokentally-Key': key, 'X-Tokentally-User': user, ...extra },
      maxRetries: 0,
    });
  const anthropic = (user = 'alice', extra: Record<string, string> = {}) =>
    new Anthropic({
      apiKey: PROVIDER_KEY,
      baseURL: `${base}/proxy/anthropic`,
      defaultHeaders: { 'X-Tokentally-Key': key, 'X-Tokentally-User': user, ...extra },
      maxRetries: 0,
    });

  /** The record of a call, once the proxy has stored it (it records after answering). */
  async function recordOf(where: string, value: string): Promise<StoredRecord> {
    for (let attempt = 0; attempt < 200; attempt += 1) {
      const rows = (await t.db.query(
        `SELECT request_id, user_id, provider, model, operation, input_tokens::int, output_tokens::int,
                cached_input_tokens::int, cache_write_tokens::int, reasoning_tokens::int, total_tokens::int,
                success, error, token_source, duration_ms
         FROM usage_records WHERE ${where} = $1`,
        [value],
      )) as StoredRecord[];
      if (rows.length === 1) return rows[0]!;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    throw new Error(`no record with ${where} = ${value}`);
  }

  const tokens = (r: StoredRecord) => ({
    input: r.input_tokens,
    output: r.output_tokens,
    cached: r.cached_input_tokens,
    cacheWrite: r.cache_write_tokens,
    reasoning: r.reasoning_tokens,
    total: r.total_tokens,
  });

  beforeAll(async () => {
    fake = await startFakeUpstream();
    t = await createTestApp({
      proxy: { openaiUpstreamUrl: `${fake.url}/v1`, anthropicUpstreamUrl: fake.url },
    });
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    const address = t.app.server.address() as { port: number };
    base = `http://127.0.0.1:${address.port}`;
    admin = bearer(t.token('root', { role: 'admin' }));
    const created = await t.app.inject({
      method: 'POST',
      url: '/v1/admin/api-keys',
      headers: admin,
      payload: { name: 'proxy' },
    });
    key = (created.json() as { key: string }).key;
    // a roomy plan for everyone: the quota test puts one user on a small one
    const plan = await t.app.inject({
      method: 'POST',
      url: '/v1/admin/plans',
      headers: admin,
      payload: { name: 'roomy', monthlyTokenLimit: 10_000_000, isDefault: true },
    });
    expect(plan.statusCode, plan.body).toBe(201);
  });
  afterAll(async () => {
    await t.close();
    await fake.close();
  });

  it('forwards a chat completion with the provider key untouched and records the reported usage', async () => {
    const completion = await openai().chat.completions.create({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'Say hello' }],
      max_tokens: 100,
    });
    expect(completion.choices[0]!.message.content).toBe('Hello from the fake upstream.');
    const sent = fake.received.at(-1)!;
    expect(sent.path).toBe('/v1/chat/completions');
    expect(sent.headers.authorization).toBe(`Bearer ${PROVIDER_KEY}`);
    expect(sent.headers['x-tokentally-key']).toBeUndefined();
    expect(sent.headers['x-tokentally-user']).toBeUndefined();
    expect(sent.body).toEqual({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Say hello' }], max_tokens: 100 });

    const record = await recordOf('request_id', completion.id);
    expect(record).toMatchObject({
      user_id: 'alice',
      provider: 'openai',
      model: FAKE.chat.model,
      operation: 'chat',
      success: true,
      error: null,
      token_source: 'reported',
    });
    expect(tokens(record)).toEqual({ input: 12, output: 7, cached: 4, cacheWrite: 0, reasoning: 2, total: 19 });
    expect(record.duration_ms).toBeGreaterThanOrEqual(0);
  });

  it('asks a chat stream for its usage chunk, keeps it from a client that did not ask, and records it', async () => {
    const stream = await openai('bea').chat.completions.create({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'Stream please' }],
      max_tokens: 50,
      stream: true,
    });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(fake.received.at(-1)!.body.stream_options).toEqual({ include_usage: true });
    expect(chunks.every((c) => c.choices.length > 0)).toBe(true);
    expect(chunks.map((c) => c.choices[0]!.delta.content ?? '').join('')).toBe('Hello from the fake upstream.');
    const record = await recordOf('request_id', chunks[0]!.id);
    expect(record).toMatchObject({ user_id: 'bea', token_source: 'reported', success: true });
    expect(tokens(record)).toEqual({ input: 12, output: 7, cached: 4, cacheWrite: 0, reasoning: 2, total: 19 });
  });

  it('passes the usage chunk on to a client that asked for it', async () => {
    const stream = await openai().chat.completions.create({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'Stream with usage' }],
      max_tokens: 50,
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    const last = chunks.at(-1)!;
    expect(last.choices).toEqual([]);
    expect(last.usage?.total_tokens).toBe(19);
    expect(tokens(await recordOf('request_id', last.id))).toMatchObject({ input: 12, output: 7 });
  });

  it('sends an amended stream body on with every byte the client wrote, an integer past 2^53 included', async () => {
    const call = async (body: string) => {
      const res = await fetch(`${base}/proxy/openai/v1/chat/completions`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${PROVIDER_KEY}`,
          'content-type': 'application/json',
          'x-tokentally-key': key,
        },
        body,
      });
      expect(res.status).toBe(200);
      await res.text();
      return fake.received.at(-1)!.text;
    };
    const sent = ` {"model":"gpt-4o", "seed":9007199254740993,\n "user":"ida","messages":[{"role":"user","content":"x"}],"stream":true}`;
    expect(await call(sent)).toBe(` {"stream_options":{"include_usage":true},${sent.slice(2)}`);
    // stream_options of its own: written anew with include_usage set, its other fields kept
    const own = await call(
      '{"model":"gpt-4o","user":"ida","messages":[],"stream":true,"stream_options":{"include_usage":false,"x":1}}',
    );
    expect(JSON.parse(own).stream_options).toEqual({ include_usage: true, x: 1 });
  });

  it('records Responses API calls, streamed (usage from response.completed) and not', async () => {
    const response = await openai().responses.create({ model: 'gpt-4.1', input: 'Hi', max_output_tokens: 64 });
    expect(response.output_text).toBe('Responses API says hi.');
    const whole = await recordOf('request_id', response.id);
    expect(whole).toMatchObject({ operation: 'responses', model: FAKE.responses.model, token_source: 'reported' });
    expect(tokens(whole)).toEqual({ input: 30, output: 9, cached: 10, cacheWrite: 0, reasoning: 3, total: 39 });

    const stream = await openai().responses.create({
      model: 'gpt-4.1',
      input: 'Hi',
      max_output_tokens: 64,
      stream: true,
    });
    let id = '';
    for await (const event of stream) if (event.type === 'response.completed') id = event.response.id;
    expect(tokens(await recordOf('request_id', id))).toEqual({
      input: 30,
      output: 9,
      cached: 10,
      cacheWrite: 0,
      reasoning: 3,
      total: 39,
    });
  });

  it('records embeddings as input tokens only, under the user field of the request', async () => {
    const embedding = await openai('ignored-header-user').embeddings.create(
      { model: 'text-embedding-3-small', input: 'embed me', user: 'carl' },
      { headers: { 'X-Tokentally-User': null } },
    );
    expect(embedding.data[0]!.embedding).toEqual([0.5, -0.25, 0.125]);
    const record = await recordOf('user_id', 'carl');
    // an embedding has no response id: the call is recorded under the proxy's own
    expect(record).toMatchObject({ operation: 'embeddings', model: FAKE.embeddings.model, token_source: 'reported' });
    expect(record.request_id).toMatch(/^proxy-/);
    expect(tokens(record)).toEqual({ input: 8, output: 0, cached: 0, cacheWrite: 0, reasoning: 0, total: 8 });
  });

  it('records Anthropic messages with disjoint cache buckets summed and the last cumulative message_delta', async () => {
    const message = await anthropic().messages.create({
      model: 'claude-sonnet-4-20250514',
      max_tokens: 200,
      messages: [{ role: 'user', content: 'Hello Claude' }],
    });
    expect(message.content).toEqual([{ type: 'text', text: 'Claude here.' }]);
    const sent = fake.received.at(-1)!;
    expect(sent.path).toBe('/v1/messages');
    // this SDK sends its key as a bearer token
    expect(sent.headers.authorization).toBe(`Bearer ${PROVIDER_KEY}`);
    const whole = await recordOf('request_id', message.id);
    expect(whole).toMatchObject({ provider: 'anthropic', model: FAKE.anthropic.model, token_source: 'reported' });
    expect(tokens(whole)).toEqual({ input: 125, output: 15, cached: 100, cacheWrite: 5, reasoning: 0, total: 140 });

    const stream = await anthropic('dora').messages.create({
      model: 'claude-sonnet-4-20250514',
      max_tokens: 200,
      messages: [{ role: 'user', content: 'Stream, Claude' }],
      stream: true,
    });
    let id = '';
    let text = '';
    for await (const event of stream) {
      if (event.type === 'message_start') id = event.message.id;
      if (event.type === 'content_block_delta' && event.delta.type === 'text_delta') text += event.delta.text;
    }
    expect(text).toBe('Claude here.');
    const streamed = await recordOf('request_id', id);
    expect(streamed).toMatchObject({ user_id: 'dora', token_source: 'reported', success: true });
    // 6 then 15 output tokens, cumulative: 15, not 21
    expect(tokens(streamed)).toEqual({ input: 125, output: 15, cached: 100, cacheWrite: 5, reasoning: 0, total: 140 });
  });

  it('passes upstream errors through unchanged and counts them as failures', async () => {
    const error = await openai('erin', { 'x-fake': 'error' })
      .chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }], max_tokens: 5 })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.RateLimitError);
    expect((error as InstanceType<typeof OpenAI.RateLimitError>).message).toContain('fake upstream: slow down');
    const failed = await recordOf('user_id', 'erin');
    expect(failed).toMatchObject({ success: false, token_source: 'reported', model: 'gpt-4o' });
    // under the provider's request id (x-request-id), as an error has no response id
    expect(failed.request_id).toMatch(/^req_fake_\d+$/);
    expect(failed.error).toContain('upstream 429: fake upstream: slow down');
    expect(tokens(failed)).toMatchObject({ input: 0, output: 0 });

    const anthropicError = await anthropic('fred', { 'x-fake': 'error' })
      .messages.create({ model: 'claude-sonnet-4-20250514', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] })
      .catch((e: unknown) => e);
    expect(anthropicError).toBeInstanceOf(Anthropic.RateLimitError);
    const failedAtClaude = await recordOf('user_id', 'fred');
    expect(failedAtClaude).toMatchObject({ success: false, provider: 'anthropic' });
    expect(failedAtClaude.request_id).toMatch(/^req_fake_\d+$/);
  });

  it('passes a stream on event by event, never waiting for its end', async () => {
    const response = await fetch(`${base}/proxy/openai/v1/chat/completions`, {
      method: 'POST',
      ...gatedChatCall(key, 'gina'),
    });
    const reader = response.body!.getReader();
    // the upstream holds back everything after its first event until the gate opens
    const first = new TextDecoder().decode((await reader.read()).value);
    expect(first).toContain('"role":"assistant"');
    fake.openGate();
    let rest = '';
    for (let part = await reader.read(); !part.done; part = await reader.read())
      rest += new TextDecoder().decode(part.value);
    expect(rest).toContain('data: [DONE]');
    expect(rest).not.toContain('"choices":[]');
    expect(await recordOf('user_id', 'gina')).toMatchObject({ token_source: 'reported', input_tokens: 12 });
  });

  it('records a stream the client left early with tokenizer counts, and aborts the upstream', async () => {
    const abortedBefore = fake.aborted;
    const prompt = 'Tell me a very long story about tokens';
    const controller = new AbortController();
    const response = await fetch(`${base}/proxy/anthropic/v1/messages`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-api-key': PROVIDER_KEY,
        'anthropic-version': '2023-06-01',
        'x-tokentally-key': key,
        'x-tokentally-user': 'hank',
        'x-fake': 'slow',
      },
      body: JSON.stringify({
        model: 'claude-sonnet-4-20250514',
        max_tokens: 300,
        messages: [{ role: 'user', content: prompt }],
        stream: true,
      }),
      signal: controller.signal,
    });
    const reader = response.body!.getReader();
    let seen = '';
    while (!seen.includes(' word5')) seen += new TextDecoder().decode((await reader.read()).value);
    controller.abort();

    const record = await recordOf('user_id', 'hank');
    expect(record).toMatchObject({ token_source: 'estimated', success: false, error: 'client disconnected' });
    expect(record.request_id).toMatch(/^msg_fake_/);
    expect(record.input_tokens).toBe(await countTokens(prompt));
    // the words that reached the proxy before the client left: at least the six the client saw
    expect(record.output_tokens).toBeGreaterThanOrEqual(await countTokens(' word0 word1 word2 word3 word4 word5'));
    expect(record.output_tokens).toBeLessThan(
      await countTokens(Array.from({ length: 200 }, (_, i) => ` word${i}`).join('')),
    );
    await expect.poll(() => fake.aborted, { timeout: 5000 }).toBe(abortedBefore + 1);
  });

  it('reserves before forwarding, answers a refusal with 429 in the provider shape, and releases after recording', async () => {
    await planFor(t, admin, ['ivy'], { name: 'tiny', monthlyTokenLimit: 1000 });
    const forwardedBefore = fake.received.length;

    const refused = await openai('ivy')
      .chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }], max_tokens: 5000 })
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(OpenAI.RateLimitError);
    expect((refused as InstanceType<typeof OpenAI.RateLimitError>).code).toBe('quota_exceeded');
    const refusedByClaude = await anthropic('ivy')
      .messages.create({
        model: 'claude-sonnet-4-20250514',
        max_tokens: 5000,
        messages: [{ role: 'user', content: 'x' }],
      })
      .catch((e: unknown) => e);
    expect(refusedByClaude).toBeInstanceOf(Anthropic.RateLimitError);
    expect((refusedByClaude as InstanceType<typeof Anthropic.RateLimitError>).error).toMatchObject({
      type: 'error',
      error: { type: 'rate_limit_error' },
    });
    expect(fake.received.length).toBe(forwardedBefore);

    const allowed = await openai('ivy').chat.completions.create({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'Say hello' }],
      max_tokens: 100,
    });
    await recordOf('request_id', allowed.id);
    await expect
      .poll(
        async () =>
          (await t.db.query(
            `SELECT status, estimated_tokens::int FROM quota_reservations WHERE workspace_id = 'default' AND user_id = 'ivy'`,
          )) as unknown[],
        { timeout: 5000 },
      )
      .toEqual([{ status: 'released', estimated_tokens: (await countTokens('Say hello')) + 100 }]);
    const quota = (await t.db.query(
      `SELECT tokens::int FROM quota_usage WHERE workspace_id = 'default' AND user_id = 'ivy'`,
    )) as Array<{ tokens: number }>;
    expect(quota).toEqual([{ tokens: 19 }]);
  });

  it('stores every call, also those ending while earlier records are being stored, and releases each reservation', async () => {
    await planFor(t, admin, ['wave-0', 'wave-1', 'wave-2'], { name: 'waves', monthlyTokenLimit: 10_000_000 });
    // calls ending every millisecond or two: some while earlier records linger, some while they are stored
    const ids = await Promise.all(
      Array.from({ length: 60 }, async (_, j) => {
        await new Promise((resolve) => setTimeout(resolve, j * 2));
        const completion = await openai(`wave-${j % 3}`).chat.completions.create({
          model: 'gpt-4o',
          messages: [{ role: 'user', content: 'Say hello' }],
          max_tokens: 100,
        });
        return completion.id;
      }),
    );
    expect(new Set(ids).size).toBe(60);
    await expect
      .poll(
        async () =>
          (await t.db.query(
            `SELECT count(*)::int AS n, count(DISTINCT request_id)::int AS ids, sum(total_tokens)::int AS tokens
             FROM usage_records WHERE user_id LIKE 'wave-%' AND request_id = ANY($1)`,
            [ids],
          )) as unknown[],
        { timeout: 10_000 },
      )
      .toEqual([{ n: 60, ids: 60, tokens: 60 * 19 }]);
    await expect
      .poll(
        async () =>
          (await t.db.query(
            `SELECT status, count(*)::int AS n FROM quota_reservations WHERE user_id LIKE 'wave-%' GROUP BY status`,
          )) as unknown[],
        { timeout: 10_000 },
      )
      .toEqual([{ status: 'released', n: 60 }]);
    const quota = (await t.db.query(
      `SELECT sum(tokens)::int AS tokens FROM quota_usage WHERE user_id LIKE 'wave-%'`,
    )) as Array<{ tokens: number }>;
    expect(quota).toEqual([{ tokens: 60 * 19 }]);
  });

  it('stores the records of finished calls when the service closes, not after', async () => {
    const second = await createTestApp({
      databaseUrl: t.databaseUrl,
      proxy: { openaiUpstreamUrl: `${fake.url}/v1`, anthropicUpstreamUrl: fake.url },
    });
    await second.app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = second.app.server.address() as { port: number };
    const client = new OpenAI({
      apiKey: PROVIDER_KEY,
      baseURL: `http://127.0.0.1:${port}/proxy/openai/v1`,
      defaultHeaders: { 'X-Tokentally-Key': key, 'X-Tokentally-User': 'closer' },
      maxRetries: 0,
    });
    const completion = await client.chat.completions.create({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'Say hello' }],
    });
    // at once: the record is still waiting to be stored with others
    await second.close();
    const stored = (await t.db.query(`SELECT count(*)::int AS n FROM usage_records WHERE request_id = $1`, [
      completion.id,
    ])) as Array<{ n: number }>;
    expect(stored).toEqual([{ n: 1 }]);
  });

  it('makes no reservation for a user whose plan can refuse nothing', async () => {
    await planFor(t, admin, ['uma'], { name: 'no-limits' });
    const completion = await openai('uma').chat.completions.create({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'Say hello' }],
    });
    expect(tokens(await recordOf('request_id', completion.id))).toMatchObject({ input: 12, output: 7 });
    const held = (await t.db.query(
      `SELECT count(*)::int AS n FROM quota_reservations WHERE user_id = 'uma'`,
    )) as Array<{
      n: number;
    }>;
    expect(held).toEqual([{ n: 0 }]);
    const quota = (await t.db.query(`SELECT tokens::int FROM quota_usage WHERE user_id = 'uma'`)) as Array<{
      tokens: number;
    }>;
    expect(quota).toEqual([{ tokens: 19 }]);
  });

  it('refuses a call without a valid Tokentally key, or without a user, in the provider shape', async () => {
    const noKey = await new OpenAI({
      apiKey: PROVIDER_KEY,
      baseURL: `${base}/proxy/openai/v1`,
      maxRetries: 0,
    }).chat.completions
      .create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }], user: 'x' })
      .catch((e: unknown) => e);
    expect(noKey).toBeInstanceOf(OpenAI.AuthenticationError);
    const badKey = await anthropic('x', { 'X-Tokentally-Key': 'tt_wrong' })
      .messages.create({ model: 'claude-sonnet-4-20250514', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] })
      .catch((e: unknown) => e);
    expect(badKey).toBeInstanceOf(Anthropic.AuthenticationError);
    const noUser = await new OpenAI({
      apiKey: PROVIDER_KEY,
      baseURL: `${base}/proxy/openai/v1`,
      defaultHeaders: { 'X-Tokentally-Key': key },
      maxRetries: 0,
    }).chat.completions
      .create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }], max_tokens: 5 })
      .catch((e: unknown) => e);
    expect(noUser).toBeInstanceOf(OpenAI.BadRequestError);
    expect((noUser as Error).message).toContain('X-Tokentally-User');
  });

  it('never stores the provider key', async () => {
    const rows = (await t.db.query(
      `SELECT count(*)::int AS n FROM usage_records WHERE metadata::text LIKE $1 OR error LIKE $1`,
      [`%${PROVIDER_KEY}%`],
    )) as Array<{ n: number }>;
    expect(rows[0]!.n).toBe(0);
  });
});
