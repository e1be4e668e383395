import { expect } from 'vitest';
import type { TestApp } from './test-app';

/** A price as POST /v1/admin/models and …/prices take it: USD per million tokens as decimal strings. */
export interface TestPrice {
  effectiveFrom: string;
  inputPerMillion: string;
  outputPerMillion: string;
  cachedInputPerMillion?: string;
  cacheWritePerMillion?: string;
  cacheWrite1hPerMillion?: string;
  longContext?: Omit<TestPrice, 'effectiveFrom' | 'longContext' | 'timeOfDay'> & { aboveInputTokens: number };
  timeOfDay?: Array<Omit<TestPrice, 'effectiveFrom' | 'longContext' | 'timeOfDay'> & { start: string; end: string }>;
}

/** A workspace model (`kind: language`) with its first price, asserted 201; returns its id. */
export async function addModel(
  t: Pick<TestApp, 'app'>,
  headers: Record<string, string>,
  ref: { provider: string; model: string },
  price: TestPrice,
): Promise<string> {
  const res = await t.app.inject({
    method: 'POST',
    url: '/v1/admin/models',
    headers,
    payload: { ...ref, kind: 'language', price },
  });
  expect(res.statusCode, res.body).toBe(201);
  return res.json().id as string;
}

/** Another price version of a workspace model, asserted 201. */
export async function addPrice(
  t: Pick<TestApp, 'app'>,
  headers: Record<string, string>,
  modelId: string,
  price: TestPrice,
): Promise<void> {
  const res = await t.app.inject({
    method: 'POST',
    url: `/v1/admin/models/${modelId}/prices`,
    headers,
    payload: { price },
  });
  expect(res.statusCode, res.body).toBe(201);
}
