/**
 * The built-in catalog entry `@pydantic/genai-prices` itself would price a reported model with:
 * its provider matching (`bedrock` → aws, `vertex` → google), each model's `match` logic (the
 * Anthropic API's `claude-sonnet-4-20250514` is listed as `claude-sonnet-4-0`, Bedrock's
 * `us.anthropic.claude-3-haiku-20240307-v1:0` as `regional.anthropic.claude-3-haiku-20240307-v1:0`)
 * and a provider's fallback providers. Only the bundled data is read: `calcPrice` and
 * `findProvider` fetch nothing unless `updatePrices` was called, which this service never does.
 */
import { calcPrice, findProvider, type ModelInfo, type Provider } from '@pydantic/genai-prices';
import type { ModelRef } from '../../application/ports/price-catalog.port';
import { normalizeProvider } from '../../domain/model-name';

/** Distinct (provider, model) pairs remembered; a service sees a few dozen. */
const MAX_MATCHES = 10_000;
const matches = new Map<string, ModelRef | null>();

/**
 * The seeded catalog's (provider, model) the package matches a reported pair to, lower case as
 * the seed stores it, or undefined when it matches none. Remembered per reported pair (0.01-0.15 ms
 * a miss otherwise: the package walks its model list).
 */
export function packageCatalogMatch(provider: string, model: string): ModelRef | undefined {
  const providerId = normalizeProvider(provider);
  const modelId = model.trim().toLowerCase();
  const key = `${providerId}\u0000${modelId}`;
  let found = matches.get(key);
  if (found === undefined) {
    found = match(providerId, modelId);
    if (matches.size >= MAX_MATCHES) matches.delete(matches.keys().next().value!);
    matches.set(key, found);
  }
  return found ?? undefined;
}

function match(providerId: string, modelId: string): ModelRef | null {
  if (!providerId || !modelId) return null;
  let result: ReturnType<typeof calcPrice>;
  try {
    result = calcPrice({}, modelId, { providerId });
  } catch {
    return null; // data the package cannot evaluate prices nothing here either
  }
  if (!result) return null;
  const owner = ownerOf(result.provider, result.model);
  return owner ? { provider: owner.id.toLowerCase(), model: result.model.id.toLowerCase() } : null;
}

/** The provider listing the model: the one matched, or one of its fallback providers. */
function ownerOf(provider: Provider, model: ModelInfo): Provider | undefined {
  if (provider.models.includes(model)) return provider;
  for (const id of provider.fallback_model_providers ?? []) {
    const fallback = findProvider({ providerId: id });
    if (fallback?.models.includes(model)) return fallback;
  }
  return undefined;
}
