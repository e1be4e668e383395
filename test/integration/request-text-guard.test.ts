import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeUpstream, type FakeUpstream } from '../support/fake-upstream';
import { createApiKey } from '../support/otel';
import { bearer, createTestApp, type TestApp } from '../support/test-app';
import { MAX_JSON_DEPTH } from '../../src/interface/http/json-depth';

/**
 * Text no column can hold (NUL, a lone surrogate) in a JSON body: every route with a body
 * answers 400 naming the field, in the one error shape, and writes nothing; the routes that
 * declare they take any text (usage records, OTLP traces, the proxy) still take it.
 */
let t: TestApp;
let fake: FakeUpstream;
let admin: Record<string, string>;
let apiKey: string;
let operations: Operation[];

interface Operation {
  method: string;
  path: string;
  operationId: string;
}

const METHODS = ['get', 'put', 'post', 'delete', 'patch'];

/** The routes that declare `acceptsAnyBodyText`: each checks such text itself, or forwards it. */
const TAKES_ANY_TEXT = (operationId: string) =>
  operationId === 'ingestUsageRecords' || operationId === 'exportTraces' || operationId.startsWith('proxy');

/** A valid body for every other operation that takes one: the hostile text is put into it. */
const BODIES: Record<string, object> = {
  createApiKey: { name: 'guarded key' },
  createModel: {
    provider: 'acme',
    model: 'guarded',
    kind: 'language',
    price: { effectiveFrom: '2026-01-01T00:00:00Z', inputPerMillion: '1', outputPerMillion: '2' },
  },
  addModelPrice: { price: { effectiveFrom: '2026-02-01T00:00:00Z', inputPerMillion: '1', outputPerMillion: '2' } },
  createPlan: { name: 'guarded plan', monthlyTokenLimit: 1000, limitType: 'soft' },
  updatePlan: { name: 'renamed plan' },
  assignUserPlan: { planId: '' },
  updateWorkspaceSettings: { timeZone: 'Europe/Berlin' },
  repriceUsage: { from: '2026-11-01T00:00:00Z', to: '2026-12-01T00:00:00Z', provider: 'openai', dryRun: true },
  createReservation: {
    userId: 'alice',
    requestId: 'guarded-reservation',
    estimatedTokens: 10,
    provider: 'openai',
    model: 'gpt-4o',
  },
  createWebhook: { url: 'https://example.com/hooks/guarded', events: ['webhook.test'], description: 'alerts' },
  testWebhook: { message: 'hello' },
};

/** Path parameters of the routes above, of things that exist. */
const parameters = new Map<string, string>([['userId', 'alice']]);

const urlOf = (operation: Operation) =>
  operation.path.replace(/\{([^}]+)\}/g, (_m, name: string) => encodeURIComponent(parameters.get(name)!));

function send(operation: Operation, body: unknown) {
  return t.app.inject({
    method: operation.method.toUpperCase() as 'POST',
    url: urlOf(operation),
    headers: { ...admin, 'content-type': 'application/json' },
    payload: JSON.stringify(body),
  });
}

/** A place in a body: a string value, or a key, by the keys leading to it. */
interface Place {
  at: string[];
  key: boolean;
}

function placesIn(value: unknown, at: string[] = []): Place[] {
  if (typeof value === 'string') return [{ at, key: false }];
  if (Array.isArray(value)) return value.flatMap((item, i) => placesIn(item, [...at, String(i)]));
  if (typeof value === 'object' && value !== null) {
    return Object.entries(value).flatMap(([k, item]) => [{ at: [...at, k], key: true }, ...placesIn(item, [...at, k])]);
  }
  return [];
}

/** The body with `spoil` applied at the place (a key renamed, a value replaced), and the place's path. */
function spoiled(body: object, place: Place, spoil: (text: string) => string): { body: object; path: string } {
  const copy = structuredClone(body) as Record<string, unknown>;
  const parent = place.at.slice(0, -1).reduce((node, k) => node[k] as Record<string, unknown>, copy);
  const last = place.at.at(-1)!;
  const at = [...place.at];
  if (place.key) {
    const renamed = spoil(last);
    const entries = Object.entries(parent).map(([k, v]): [string, unknown] => [k === last ? renamed : k, v]);
    for (const k of Object.keys(parent)) delete parent[k];
    Object.assign(parent, Object.fromEntries(entries));
    at[at.length - 1] = renamed;
  } else {
    parent[last] = spoil(parent[last] as string);
  }
  return { body: copy, path: pointer(at) };
}

/** The path a schema error gives a body field (JSON Pointer), with the text escaped as JSON shows it. */
const pointer = (at: string[]) =>
  at.map((k) => `/${JSON.stringify(k.replace(/~/g, '~0').replace(/\//g, '~1')).slice(1, -1)}`).join('') || '/';

/** NUL, or half of a surrogate pair on its own, alone or within other text. */
const unstorable = fc.oneof(
  fc.constantFrom('\u0000', '\ud800', '\udbff', '\udc00', '\udfff', '\udc00\ud800'),
  fc.integer({ min: 0xd800, max: 0xdfff }).map((unit) => String.fromCharCode(unit)),
  fc.tuple(fc.string({ maxLength: 5 }), fc.string({ maxLength: 5 })).map(([a, b]) => `${a}\u0000${b}`),
);

/** An extra field of any JSON, so that the place may also be deeper than the schema goes. */
const extraField = fc.option(
  fc
    .record({ key: fc.string({ maxLength: 8 }), value: fc.jsonValue({ maxDepth: 3 }) })
    .filter(({ key, value }) => !/__proto__|constructor/.test(key + JSON.stringify(value))),
  { nil: undefined },
);

/** Every table's rows, as one digest per table. */
async function contents(): Promise<Record<string, string>> {
  const tables = (await t.db.query(
    `SELECT format('%I.%I', schemaname, tablename) AS name FROM pg_tables
     WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1`,
  )) as Array<{ name: string }>;
  const digests: Record<string, string> = {};
  for (const { name } of tables) {
    const [row] = (await t.db.query(
      `SELECT md5(coalesce(string_agg(r::text, E'\\n' ORDER BY r::text), '')) AS digest FROM ${name} r`,
    )) as Array<{ digest: string }>;
    digests[name] = row!.digest;
  }
  return digests;
}

function expectRefusedAt(res: { statusCode: number; body: string; json(): unknown }, path: string, where: string) {
  expect(res.statusCode, `${where}: ${res.body.slice(0, 300)}`).toBe(400);
  expect(res.json(), where).toEqual({
    statusCode: 400,
    code: 'validation_failed',
    message: `${path} must not contain NUL or unpaired surrogates`,
    details: [{ path, message: 'must not contain NUL or unpaired surrogate characters' }],
  });
}

beforeAll(async () => {
  fake = await startFakeUpstream();
  t = await createTestApp({ proxy: { openaiUpstreamUrl: `${fake.url}/v1`, anthropicUpstreamUrl: fake.url } });
  admin = bearer(t.token('root', { role: 'admin' }));
  apiKey = await createApiKey(t);
  const doc = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json() as {
    paths: Record<string, Record<string, { operationId: string; requestBody?: unknown }>>;
  };
  operations = Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.entries(item)
      .filter(([method, op]) => METHODS.includes(method) && op.requestBody !== undefined)
      .map(([method, op]) => ({ method, path, operationId: op.operationId })),
  );

  const made = async (url: string, payload: object) => {
    const res = await t.app.inject({ method: 'POST', url, headers: admin, payload });
    expect(res.statusCode, res.body).toBe(201);
    return res.json() as Record<string, { id: string }> & { id: string };
  };
  const plan = await made('/v1/admin/plans', { name: 'existing plan', monthlyTokenLimit: 1000 });
  parameters.set('planId', plan.id);
  BODIES.assignUserPlan = { planId: plan.id };
  parameters.set(
    'webhookId',
    (await made('/v1/admin/webhooks', { url: 'https://example.com/h', events: ['webhook.test'] })).webhook!.id,
  );
  parameters.set('id', (await made('/v1/admin/models', { ...BODIES.createModel, model: 'existing' })).id);
});
afterAll(async () => {
  await t?.close();
  await fake?.close();
});

const guarded = () => operations.filter((op) => !TAKES_ANY_TEXT(op.operationId));

describe('a NUL or a lone surrogate in a JSON body', () => {
  it('is looked for on every route with a body but the three that take any text, each with a valid body here', async () => {
    expect(
      guarded()
        .map((op) => op.operationId)
        .sort(),
    ).toEqual(Object.keys(BODIES).sort());
    expect(operations.filter((op) => TAKES_ANY_TEXT(op.operationId)).length).toBeGreaterThanOrEqual(3);
    // the bodies as they are reach the handler and are accepted: the 400s below are the text's
    for (const operation of guarded()) {
      const res = await send(operation, BODIES[operation.operationId]);
      expect(res.statusCode, `${operation.operationId} ${res.body}`).toBeLessThan(300);
    }
  });

  it('answers 400 naming the field (or key) it is in, whichever string it is put into, and writes nothing', async () => {
    const before = await contents();
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...guarded()),
        extraField,
        fc.nat(),
        unstorable,
        fc.nat(),
        async (operation, extra, which, bad, offset) => {
          const body = { ...BODIES[operation.operationId], ...(extra ? { [extra.key]: extra.value } : {}) };
          const places = placesIn(body);
          const place = places[which % places.length]!;
          const spoil = (text: string) => {
            const at = offset % (text.length + 1);
            return text.slice(0, at) + bad + text.slice(at);
          };
          const hostile = spoiled(body, place, spoil);
          const where = `${operation.operationId} ${JSON.stringify(hostile.body).slice(0, 200)}`;
          expectRefusedAt(await send(operation, hostile.body), hostile.path, where);
        },
      ),
      { numRuns: 300 },
    );
    expect(await contents()).toEqual(before);
  });

  it('names the fields the reviewer found, each alone', async () => {
    const cases: Array<[string, string, unknown, string]> = [
      ['POST', '/v1/quota/reservations', { userId: 'a\u0000b', requestId: 'r-1', estimatedTokens: 1 }, '/userId'],
      ['POST', '/v1/quota/reservations', { userId: 'u', requestId: '\u0000', estimatedTokens: 1 }, '/requestId'],
      [
        'POST',
        '/v1/quota/reservations',
        { userId: 'u', requestId: 'r-3', estimatedTokens: 1, provider: 'openai', model: 'gpt\ud800' },
        '/model',
      ],
      ['POST', '/v1/admin/plans', { name: 'a\u0000b' }, '/name'],
      [
        'POST',
        '/v1/admin/webhooks',
        { url: 'https://example.com/', events: ['webhook.test'], description: '\u0000' },
        '/description',
      ],
      ['POST', `/v1/admin/webhooks/${parameters.get('webhookId')}/test`, { message: 'x\udfff' }, '/message'],
      ['POST', '/v1/admin/webhooks', { url: 'https://example.com/', events: ['webhook.test', '\u0000'] }, '/events/1'],
      ['POST', '/v1/admin/plans', { name: 'p', ['a/b~\u0000']: 1 }, '/a~1b~0\\u0000'],
      ['POST', '/v1/admin/plans', '\ud800', '/'],
    ];
    for (const [method, url, payload, path] of cases) {
      const res = await t.app.inject({
        method: method as 'POST',
        url,
        headers: { ...admin, 'content-type': 'application/json' },
        payload: JSON.stringify(payload),
      });
      expectRefusedAt(res, path, `${url} ${JSON.stringify(payload)}`);
    }
  });

  it('is found at any depth a body may nest to', async () => {
    // deeper bodies are refused as such (deep-json-bodies.test.ts)
    const depth = MAX_JSON_DEPTH - 1;
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/admin/plans',
      headers: { ...admin, 'content-type': 'application/json' },
      payload: `{"name":"deep","x":${'['.repeat(depth)}"\\u0000"${']'.repeat(depth)}}`,
    });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({
      code: 'validation_failed',
      details: [{ path: `/x${'/0'.repeat(depth)}` }],
    });
  });
});

describe('the routes that take any text in their body', () => {
  it('POST /v1/usage/records refuses the record alone and stores the rest', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/usage/records',
      headers: { 'x-api-key': apiKey },
      payload: {
        records: [
          { requestId: 'fine', userId: 'bob', provider: 'openai', model: 'gpt-4o', inputTokens: 1, outputTokens: 1 },
          { requestId: 'nul', userId: 'bob', provider: 'openai', model: 'gpt\u0000', inputTokens: 1, outputTokens: 1 },
        ],
      },
    });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ accepted: 1, rejected: [{ index: 1 }] });
  });

  it('POST /v1/traces refuses the span alone', async () => {
    const attributes = (id: string, model: string) =>
      [
        ['gen_ai.provider.name', { stringValue: 'openai' }],
        ['gen_ai.request.model', { stringValue: model }],
        ['gen_ai.response.id', { stringValue: id }],
        ['gen_ai.usage.input_tokens', { intValue: '3' }],
        ['gen_ai.usage.output_tokens', { intValue: '4' }],
        ['user.id', { stringValue: 'bob' }],
      ].map(([key, value]) => ({ key, value }));
    const span = (n: number, model: string) => ({
      traceId: String(n).padStart(32, 'a'),
      spanId: String(n).padStart(16, 'b'),
      name: 'chat',
      startTimeUnixNano: '1795000000000000000',
      endTimeUnixNano: '1795000000800000000',
      attributes: attributes(`span-${n}`, model),
    });
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/traces',
      headers: { 'x-api-key': apiKey, 'content-type': 'application/json' },
      payload: JSON.stringify({
        resourceSpans: [{ scopeSpans: [{ spans: [span(1, 'gpt-4o'), span(2, 'gpt\u0000')] }] }],
      }),
    });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json(), res.body).toMatchObject({ partialSuccess: { rejectedSpans: 1 } });
  });

  it('the proxy forwards a prompt with any text untouched', async () => {
    const content = 'a\u0000b \ud800 c';
    // room for the proxy's estimate
    const roomy = await t.app.inject({
      method: 'POST',
      url: '/v1/admin/plans',
      headers: admin,
      payload: { name: 'roomy', monthlyTokenLimit: 10_000_000 },
    });
    const assigned = await t.app.inject({
      method: 'PUT',
      url: '/v1/admin/users/carol/plan',
      headers: admin,
      payload: { planId: (roomy.json() as { id: string }).id },
    });
    expect(assigned.statusCode, assigned.body).toBe(200);
    const res = await t.app.inject({
      method: 'POST',
      url: '/proxy/openai/v1/chat/completions',
      headers: {
        'x-tokentally-key': apiKey,
        'x-tokentally-user': 'carol',
        authorization: 'Bearer sk-provider',
        'content-type': 'application/json',
      },
      payload: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content }] }),
    });
    expect(res.statusCode, res.body).toBe(200);
    expect(fake.received.at(-1)?.body).toMatchObject({ messages: [{ role: 'user', content }] });
  });
});
