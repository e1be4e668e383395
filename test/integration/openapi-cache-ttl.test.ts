import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../support/test-app';

/** The OpenAPI document describes the provider fields the one-hour cache-write pricing reads. */
let t: TestApp;
let schemas: Record<string, { properties?: Record<string, unknown> }>;
beforeAll(async () => {
  t = await createTestApp();
  schemas = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json().components.schemas;
});
afterAll(async () => t.close());

describe('OpenAPI for one-hour cache writes', () => {
  it('documents Anthropic cache_creation (read for ephemeral_1h_input_tokens)', () => {
    expect(Object.keys(schemas.AnthropicMessagesUsage!.properties!)).toContain('cache_creation');
  });

  it('documents Bedrock cacheDetails (read for the one-hour writes, "must add up to cacheWriteInputTokens")', () => {
    expect(Object.keys(schemas.BedrockConverseUsage!.properties!)).toContain('cacheDetails');
  });
});
