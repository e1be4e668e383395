/**
 * Turns the price data bundled in `@pydantic/genai-prices` into our seed catalog:
 * one row per (provider, model), each with dated price versions as exact decimal strings.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import {
  waitForUpdate,
  type ConditionalPrice,
  type ModelInfo,
  type ModelPrice,
  type Provider,
} from '@pydantic/genai-prices';

/** A price's rates as exact decimal strings, null where the source has none. */
export interface SeedRates {
  inputPerMillion: string;
  outputPerMillion: string;
  cachedInputPerMillion: string | null;
  cacheWritePerMillion: string | null;
  cacheWrite1hPerMillion: string | null;
  reasoningPerMillion: string | null;
}

export interface SeedPrice extends SeedRates {
  /** ISO 8601 instant; the epoch when the source gives no start date */
  effectiveFrom: string;
  /** the rates of a call whose input is above `aboveInputTokens`, null when the source has no tiers */
  longContext: (SeedRates & { aboveInputTokens: number }) | null;
  /** daily windows (seconds of the UTC day, end excluded) with rates of their own; the later wins */
  timeOfDay: Array<SeedRates & { startSecond: number; endSecond: number }>;
}

export interface SeedModel {
  provider: string;
  model: string;
  kind: 'language' | 'embedding';
  /** sorted by effectiveFrom ascending, never empty */
  prices: SeedPrice[];
}

const PACKAGE = '@pydantic/genai-prices';
const EPOCH = '1970-01-01T00:00:00Z';
// Resolve the package whether this file runs as CommonJS or as an ES module.
const requireHere = createRequire(typeof __filename === 'string' ? __filename : import.meta.url);
const PACKAGE_ENTRY = requireHere.resolve(PACKAGE);

export const CATALOG_SOURCE: { name: string; version: string } = readPackageInfo();

/** The seed catalog from the data bundled with the installed package (nothing is fetched). */
export async function loadBundledCatalog(): Promise<SeedModel[]> {
  return loadGenaiPricesCatalog(await readBundledProviders());
}

/** Builds the seed catalog from provider data in the package's format. */
export function loadGenaiPricesCatalog(providers: Provider[]): SeedModel[] {
  const seen = new Set<string>();
  const catalog: SeedModel[] = [];
  for (const source of providers) {
    const provider = source.id.toLowerCase();
    for (const info of source.models) {
      const model = info.id.toLowerCase();
      const key = `${provider}\u0000${model}`;
      // The package matches the first model that fits, so the first occurrence wins here too.
      if (seen.has(key)) continue;
      const prices = seedPrices(info);
      if (prices.length === 0) continue; // neither input nor output price: not billed per token
      seen.add(key);
      catalog.push({ provider, model, kind: kindOf(source, info, prices), prices });
    }
  }
  return catalog;
}

/**
 * `prices` is either one price set or a list the package evaluates from its end: the first
 * entry is the fallback (it has no constraint in practice), `start_date` entries take over from
 * that day (UTC), and `time_of_date` entries override the price inside a daily window (UTC). We
 * keep the first entry (from the epoch) and each `start_date` entry as price versions, and each
 * window as a window of the version listed last before it: the source lists a version's peak
 * windows after it (DeepSeek V4: "the two peak windows come last so they win during peak
 * hours" from 2026-08-17), though its own evaluation applies windows listed last at any date.
 */
function seedPrices(info: ModelInfo): SeedPrice[] {
  const entries: ConditionalPrice[] = Array.isArray(info.prices) ? info.prices : [{ prices: info.prices }];
  // Keyed by start so a later entry for the same day wins, as it does in the package.
  const versions = new Map<string, SeedPrice>();
  let current: SeedPrice | undefined;
  for (const [index, entry] of entries.entries()) {
    // the first entry is the fallback whatever it says, as in the package
    const window = index === 0 ? null : windowOf(entry, info.id);
    if (window) {
      if (current) current.timeOfDay.push(window);
      continue;
    }
    const version = seedPrice(startOf(entry, index, info.id), entry.prices, info.id);
    if (version) versions.set(version.effectiveFrom, (current = version));
  }
  // Fixed-width ISO instants sort correctly as plain strings.
  const sorted = [...versions.values()].sort((a, b) => (a.effectiveFrom < b.effectiveFrom ? -1 : 1));
  // A dated entry that changes only what we drop (other units) would repeat the row before it.
  return sorted.filter((version, i) => i === 0 || !samePrices(version, sorted[i - 1]!));
}

/** When a price-list entry that is not a window starts to apply. */
function startOf({ constraint }: ConditionalPrice, index: number, modelId: string): string {
  if (index === 0) return EPOCH;
  if (constraint?.type === 'start_date') return `${constraint.start_date}T00:00:00Z`;
  // A later unconstrained entry would shadow everything before it; fail loudly, don't guess.
  throw new Error(`${PACKAGE}: unsupported price list for model '${modelId}'`);
}

/** A `time_of_date` entry as a window of seconds of the UTC day, or null for any other entry. */
function windowOf({ constraint, prices }: ConditionalPrice, modelId: string): SeedPrice['timeOfDay'][number] | null {
  if (constraint?.type !== 'time_of_date') return null;
  const rates = seedRates(prices, (value) => {
    if (typeof value === 'number') return value;
    throw new Error(`${PACKAGE}: tiered prices in a time-of-day window for model '${modelId}'`);
  });
  const [startSecond, endSecond] = [secondOfDay(constraint.start_time), secondOfDay(constraint.end_time)];
  if (!rates || startSecond === endSecond)
    throw new Error(`${PACKAGE}: unsupported time-of-day price for '${modelId}'`);
  return { startSecond, endSecond, ...rates };
}

/** Seconds after UTC midnight of the source's "HH:MM:SSZ". */
function secondOfDay(time: string): number {
  const match = /^(\d{2}):(\d{2}):(\d{2})Z?$/.exec(time);
  if (!match) throw new Error(`${PACKAGE}: unsupported time of day '${time}'`);
  return (Number(match[1]) * 60 + Number(match[2])) * 60 + Number(match[3]);
}

function samePrices(a: SeedPrice, b: SeedPrice): boolean {
  return (
    a.inputPerMillion === b.inputPerMillion &&
    a.outputPerMillion === b.outputPerMillion &&
    a.cachedInputPerMillion === b.cachedInputPerMillion &&
    a.cacheWritePerMillion === b.cacheWritePerMillion &&
    a.cacheWrite1hPerMillion === b.cacheWrite1hPerMillion &&
    a.reasoningPerMillion === b.reasoningPerMillion &&
    JSON.stringify(a.longContext) === JSON.stringify(b.longContext) &&
    JSON.stringify(a.timeOfDay) === JSON.stringify(b.timeOfDay)
  );
}

function seedPrice(effectiveFrom: string, prices: ModelPrice, modelId: string): SeedPrice | null {
  const base = seedRates(prices, (value) => (typeof value === 'number' ? value : value.base));
  if (base === null) return null;
  return { effectiveFrom, ...base, longContext: longContext(prices, modelId), timeOfDay: [] };
}

/** The six rates of a price set, each read from the source's value by `pick`; null without input and output. */
function seedRates(prices: ModelPrice, pick: (value: NonNullable<ModelPrice[string]>) => number): SeedRates | null {
  const rate = (value: ModelPrice[string]) => (value === undefined ? null : toDecimalString(pick(value)));
  const input = rate(prices.input_mtok);
  const output = rate(prices.output_mtok);
  if (input === null && output === null) return null;
  return {
    // Input-only models (embeddings) never produce output tokens.
    inputPerMillion: input ?? '0',
    outputPerMillion: output ?? '0',
    cachedInputPerMillion: rate(prices.cache_read_mtok),
    // The default (5-minute) cache write, and the one-hour one where the provider offers it.
    cacheWritePerMillion: rate(prices.cache_write_mtok),
    cacheWrite1hPerMillion: rate(prices.cache_write_1h_mtok),
    // Only a few models bill reasoning separately; elsewhere it is billed as output tokens.
    reasoningPerMillion: rate(prices.output_reasoning_mtok),
  };
}

/**
 * Tiered prices (`{ base, tiers: [{ start, price }] }`): the package prices every token of a
 * call at the tier its input tokens (cache reads and writes included) are above, rate by rate.
 * Every tiered model of the source has one tier, at one threshold for all its rates (200k for
 * Gemini 2.5 Pro, 272k for GPT-5.4): our long-context tier, in which an untiered rate keeps its
 * one value. Any other shape fails loudly: a base price alone would undercharge long calls.
 */
function longContext(prices: ModelPrice, modelId: string): SeedPrice['longContext'] {
  const tiered = Object.values(prices).filter((value) => typeof value === 'object');
  if (tiered.length === 0) return null;
  const starts = new Set(tiered.flatMap((value) => value.tiers.map((tier) => tier.start)));
  if (starts.size !== 1 || tiered.some((value) => value.tiers.length !== 1)) {
    throw new Error(`${PACKAGE}: unsupported price tiers for model '${modelId}'`);
  }
  const rates = seedRates(prices, (value) => (typeof value === 'number' ? value : value.tiers[0]!.price));
  return rates && { aboveInputTokens: [...starts][0]!, ...rates };
}

/**
 * Exact decimal text for a price from the source, with no float arithmetic: 15 significant digits
 * give back any decimal literal of up to 15 digits unchanged and drop binary noise the source
 * carries (0.18000000000000002 becomes 0.18); exponents are expanded (1e-7 becomes 0.0000001).
 */
export function toDecimalString(value: number): string {
  if (!Number.isFinite(value) || value < 0) {
    throw new RangeError(`${PACKAGE}: invalid price ${value}`);
  }
  const [mantissa = '', exponent = '0'] = value.toPrecision(15).split('e');
  const [whole = '', fraction = ''] = mantissa.split('.');
  const digits = whole + fraction;
  const point = whole.length + Number(exponent);
  const padded = point <= 0 ? '0'.repeat(1 - point) + digits : digits.padEnd(point, '0');
  const at = Math.max(point, 1);
  const integer = padded.slice(0, at).replace(/^0+(?=\d)/, '');
  const decimals = padded.slice(at).replace(/0+$/, '');
  return decimals ? `${integer}.${decimals}` : integer;
}

/**
 * The source has no kind field. It marks embeddings in the model id, name or description, and
 * Voyage AI marks its whole (input-priced only) list as embedding models in the provider comments.
 */
function kindOf(provider: Provider, info: ModelInfo, prices: SeedPrice[]): SeedModel['kind'] {
  const embed = /embed/i;
  if ([info.id, info.name, info.description].some((text) => text !== undefined && embed.test(text))) {
    return 'embedding';
  }
  const providerText = `${provider.description ?? ''} ${provider.price_comments ?? ''}`;
  const inputOnly = prices.every((version) => version.outputPerMillion === '0');
  return inputOnly && embed.test(providerText) ? 'embedding' : 'language';
}

/** The package exposes its bundled data only through `waitForUpdate()`; we never ask it to update. */
async function readBundledProviders(): Promise<Provider[]> {
  const providers: unknown = await waitForUpdate();
  if (!Array.isArray(providers)) throw new Error(`${PACKAGE}: bundled data is not a provider list`);
  return providers as Provider[];
}

/** The package does not export its package.json, so find it above the resolved entry point. */
function readPackageInfo(): { name: string; version: string } {
  for (let dir = dirname(PACKAGE_ENTRY); dir !== dirname(dir); dir = dirname(dir)) {
    try {
      const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (manifest.name === PACKAGE && manifest.version) {
        return { name: PACKAGE, version: manifest.version };
      }
    } catch {
      // no package.json at this level; keep walking up
    }
  }
  throw new Error(`${PACKAGE}: package.json not found`);
}
