import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_JSON_DEPTH } from '../../src/interface/http/json-depth';
import { startFakeUpstream, type FakeUpstream } from '../support/fake-upstream';
import { usageRecord } from '../support/records';
import { bearer, createTestApp, type TestApp } from '../support/test-app';

/**
 * A JSON body nested deeper than MAX_JSON_DEPTH is a 400 naming the body, on every route that
 * reads JSON: parsing it was fine, but the walks after it recursed, and ~50,000 levels
 * overflowed the stack (a 500). A body at the limit is read as before.
 */
let t: TestApp;
let fake: FakeUpstream;
let admin: Record<string, string>;
let apiKey: string;

beforeAll(async () => {
  fake = await startFakeUpstream();
  t = await createTestApp({ proxy: { openaiUpstreamUrl: `${fake.url}/v1`, anthropicUpstreamUrl: fake.url } });
  admin = bearer(t.token('root', { role: 'admin' }));
  const created = await t.app.inject({
    method: 'POST',
    url: '/v1/admin/api-keys',
    headers: admin,
    payload: { name: 'deep' },
  });
  apiKey = (created.json() as { key: string }).key;
});
afterAll(async () => {
  await t.close();
  await fake.close();
});

const nested = (levels: number): string => `${'['.repeat(levels)}"\\u0041"${']'.repeat(levels)}`;

/** One request per JSON-reading route family, with `value` nested inside a field it accepts. */
function requests(value: string) {
  const json = { 'content-type': 'application/json' };
  return {
    plans: {
      method: 'POST',
      url: '/v1/admin/plans',
      headers: { ...admin, ...json },
      payload: `{"name":"p","extra":${value}}`,
    },
    records: {
      method: 'POST',
      url: '/v1/usage/records',
      headers: { ...admin, ...json },
      payload: JSON.stringify({ records: [usageRecord({ metadata: { a: 1 } })] }).replace('{"a":1}', `{"a":${value}}`),
    },
    traces: {
      method: 'POST',
      url: '/v1/traces',
      headers: { 'x-api-key': apiKey, ...json },
      payload: `{"resourceSpans":[],"extra":${value}}`,
    },
    proxy: {
      method: 'POST',
      url: '/proxy/openai/v1/chat/completions',
      headers: { 'x-tokentally-key': apiKey, 'x-tokentally-user': 'deep', ...json },
      payload: `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"extra":${value}}`,
    },
  } as const;
}

describe('deeply nested JSON bodies', () => {
  it('answers 400 naming the body on every route that reads JSON, never 500, and stores nothing', async () => {
    for (const levels of [MAX_JSON_DEPTH + 1, 50_000]) {
      for (const [route, request] of Object.entries(requests(nested(levels)))) {
        const res = await t.app.inject(request);
        expect(res.statusCode, `${route} at ${levels}: ${res.body}`).toBe(400);
        if (route === 'proxy') {
          // in the provider's own error shape, as every refusal of the proxy
          expect(res.json().error.message).toContain(`deeper than ${MAX_JSON_DEPTH} levels`);
        } else {
          expect(res.json().details, route).toEqual([expect.objectContaining({ path: '/' })]);
        }
      }
    }
    expect(fake.received, 'nothing forwarded').toHaveLength(0);
    const [stored] = (await t.db.query(
      `SELECT (SELECT count(*) FROM usage_records)::int + (SELECT count(*) FROM plans WHERE name = 'p')::int AS n`,
    )) as Array<{ n: number }>;
    expect(stored!.n).toBe(0);
  });

  it('reads metadata nested up to the limit as before', async () => {
    // the record's envelope takes three levels of the body's nesting
    const { records } = requests(nested(MAX_JSON_DEPTH - 4));
    const res = await t.app.inject(records);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ accepted: 1, rejected: [] });
  });
});
