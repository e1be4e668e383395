/**
 * Deterministic, realistic usage records. `usageRecord(i)` is a pure function of the seed and
 * the index, so a re-sent duplicate is byte-for-byte the record sent before, and nothing has
 * to be kept in memory while 10M records are generated.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { Progress } from './progress';

export const WORKSPACE = 'bench';
export const USERS = 1000;
const HOUR_MS = 3_600_000;

/**
 * Who calls which model. `favourites`: each user has three favourite models that take ~85% of
 * their calls. `any`: every user may call any of the 60 models, each record's model drawn
 * uniformly. In both, user u = floor(1000 · r²): user-0000 calls far more than user-0999.
 */
export const SHAPES = ['favourites', 'any'] as const;
export type Shape = (typeof SHAPES)[number];

/** When the ingested records happened: `live` within the last hour, `backfill` over the last 30 days. */
export const SCENARIOS = { live: HOUR_MS, backfill: 30 * 24 * HOUR_MS } as const;
export type Scenario = keyof typeof SCENARIOS;

/** 60 models of 7 providers; names as in the built-in catalog, except the self-hosted ones (unpriced). */
const CATALOG: Array<[provider: string, models: string, reasoning: string]> = [
  [
    'openai',
    'gpt-4o gpt-4o-mini gpt-4.1 gpt-4.1-mini gpt-4.1-nano gpt-5 gpt-5-mini gpt-5-nano gpt-5.1 o3 o3-mini o4-mini',
    'gpt-5 gpt-5-mini gpt-5-nano gpt-5.1 o3 o3-mini o4-mini',
  ],
  [
    'anthropic',
    'claude-3-5-haiku-latest claude-3-7-sonnet-latest claude-haiku-4-5 claude-opus-4-1 claude-opus-4-5 claude-opus-4-6 claude-sonnet-4-0 claude-sonnet-4-5 claude-sonnet-4-6 claude-sonnet-5',
    'claude-opus-4-5 claude-opus-4-6 claude-sonnet-4-5 claude-sonnet-4-6 claude-sonnet-5',
  ],
  [
    'google',
    'gemini-1.5-flash gemini-1.5-pro gemini-2.0-flash gemini-2.0-flash-lite gemini-2.5-flash gemini-2.5-flash-lite gemini-2.5-pro gemini-3-flash-preview gemini-3-pro-preview gemini-3.1-pro-preview',
    'gemini-2.5-flash gemini-2.5-pro gemini-3-flash-preview gemini-3-pro-preview gemini-3.1-pro-preview',
  ],
  [
    'mistral',
    'codestral devstral-small magistral-medium magistral-small ministral-8b mistral-large mistral-medium-latest mistral-small-latest mistral-nemo pixtral-large',
    'magistral-medium magistral-small',
  ],
  [
    'x-ai',
    'grok-3 grok-3-mini grok-4-0709 grok-4-fast-reasoning grok-4-fast-non-reasoning grok-4.20 grok-code-fast-1 grok-4.3',
    'grok-3-mini grok-4-0709 grok-4-fast-reasoning grok-4.3',
  ],
  [
    'deepseek',
    'deepseek-chat deepseek-reasoner deepseek-v3.1-terminus deepseek-v3.2 deepseek-v3.2-exp deepseek-v4-flash deepseek-v4-pro',
    'deepseek-reasoner',
  ],
  ['vllm', 'llama-3.1-8b-acme-ft qwen3-32b-acme-ft mistral-7b-acme-ft', ''],
];

export interface BenchModel {
  provider: string;
  model: string;
  reasoning: boolean;
}

export const MODELS: BenchModel[] = CATALOG.flatMap(([provider, models, reasoning]) =>
  models.split(' ').map((model) => ({ provider, model, reasoning: reasoning.split(' ').includes(model) })),
);
if (MODELS.length !== 60) throw new Error(`expected 60 bench models, got ${MODELS.length}`);

export const userName = (index: number): string => `user-${String(index).padStart(4, '0')}`;
/** The heaviest user of both datasets (user index 0 is the most active). */
export const HEAVY_USER = userName(0);

/** murmur3's finaliser: a bijection on 32-bit integers. */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const APPS = ['support-bot', 'code-assistant', 'search', 'summarizer', 'agent'];
const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

/** The model of one record (the same rule as the SQL dataset). */
export function pickModel(shape: Shape, user: number, r: number, r2: number): number {
  if (shape === 'any') return Math.floor(r2 * MODELS.length);
  if (r < 0.45) return (user * 7) % MODELS.length;
  if (r < 0.7) return (user * 13 + 5) % MODELS.length;
  if (r < 0.85) return (user * 31 + 11) % MODELS.length;
  return Math.floor(r2 * MODELS.length);
}

export interface IngestDataset {
  seed: number;
  records: number;
  shape: Shape;
  /** occurredAt of record i lies near start + (i / records) · span, within [start, start + span] */
  start: number;
  spanMs: number;
}

/** Records in time order over the scenario's span, which ends now. */
export function ingestDataset(
  seed: number,
  records: number,
  shape: Shape,
  scenario: Scenario,
  now = Date.now(),
): IngestDataset {
  return { seed, records, shape, start: now - SCENARIOS[scenario], spanMs: SCENARIOS[scenario] };
}

/** Record i of the ingest dataset, as its JSON object; also returns its total tokens. */
export function usageRecord(d: IngestDataset, i: number): { json: string; totalTokens: number } {
  const rnd = mulberry32(fmix32(Math.imul(i, 0x9e3779b1) ^ d.seed));
  let suffix = '';
  for (let k = 0; k < 16; k += 1) suffix += ALPHABET[Math.floor(rnd() * ALPHABET.length)];
  const requestId = `chatcmpl-${fmix32((i ^ d.seed) >>> 0)
    .toString(16)
    .padStart(8, '0')}${suffix}`;
  const jitter = (rnd() - 0.5) * 10 * 60_000;
  const at = Math.min(d.start + d.spanMs, Math.max(d.start, d.start + ((i + 0.5) / d.records) * d.spanMs + jitter));
  const user = Math.floor(USERS * rnd() ** 2);
  const model = MODELS[pickModel(d.shape, user, rnd(), rnd())]!;
  const failed = rnd() < 0.02;
  const inputTokens = 100 + Math.floor(20_000 * rnd() ** 3);
  const cached = rnd() < 0.4 ? Math.floor(inputTokens * (0.3 + 0.6 * rnd())) : 0;
  const cacheWrite = model.provider === 'anthropic' && rnd() < 0.2 ? Math.floor((inputTokens - cached) * 0.5) : 0;
  const outputTokens = failed ? 0 : 20 + Math.floor(3000 * rnd() ** 2);
  const reasoning = model.reasoning ? Math.floor(outputTokens * 0.6 * rnd()) : 0;
  const record: Record<string, unknown> = {
    requestId,
    occurredAt: new Date(Math.round(at)).toISOString(),
    userId: userName(user),
    provider: model.provider,
    model: model.model,
    operation: rnd() < 0.9 ? 'chat' : 'completion',
    inputTokens,
    outputTokens,
  };
  if (cached > 0) record.cachedInputTokens = cached;
  if (cacheWrite > 0) record.cacheWriteTokens = cacheWrite;
  // a quarter of those writes go partly to the one-hour cache (no draw: the sequence stays as it was)
  if (cacheWrite > 1 && inputTokens % 4 === 0) record.cacheWrite1hTokens = Math.floor(cacheWrite / 2);
  if (reasoning > 0) record.reasoningTokens = reasoning;
  record.durationMs = 200 + outputTokens * 15 + Math.floor(2000 * rnd());
  if (failed) record.error = rnd() < 0.7 ? 'rate_limit_exceeded' : 'context_length_exceeded';
  const app = rnd();
  if (app < 0.7) record.metadata = { app: APPS[Math.floor(app * 7) % APPS.length], env: 'prod' };
  return { json: JSON.stringify(record), totalTokens: inputTokens + outputTokens };
}

/**
 * The order records are sent in: every index once, plus `round(records · fraction)` re-sends
 * of a recently sent record (a client retrying), mixed in uniformly.
 */
export function* sendOrder(
  records: number,
  fraction: number,
  seed: number,
): Generator<{ index: number; dup: boolean }> {
  const rnd = mulberry32(fmix32(seed ^ 0xd00d));
  let next = 0;
  let dups = Math.round(records * fraction);
  while (next < records || dups > 0) {
    const takeDup = dups > 0 && next > 0 && (next === records || rnd() * (records - next + dups) < dups);
    if (takeDup) {
      dups -= 1;
      yield { index: next - 1 - Math.floor(rnd() * Math.min(next, 20_000)), dup: true };
    } else {
      yield { index: next, dup: false };
      next += 1;
    }
  }
}

export interface BatchFile {
  path: string;
  batches: Array<{ offset: number; length: number; count: number }>;
  sent: number;
  duplicatesSent: number;
  /** sum of totalTokens over the unique records: what the database must hold afterwards */
  uniqueTotalTokens: number;
  bytes: number;
}

/** Serialises every request body ahead of time into one file, so that the timed run only sends. */
export function writeBatchFile(path: string, d: IngestDataset, fraction: number, batch: number): BatchFile {
  const total = d.records + Math.round(d.records * fraction);
  const progress = new Progress('generating request bodies', total);
  const fd = openSync(path, 'w');
  const file: BatchFile = { path, batches: [], sent: 0, duplicatesSent: 0, uniqueTotalTokens: 0, bytes: 0 };
  let parts: string[] = [];
  const flush = (): void => {
    const body = Buffer.from(`{"records":[${parts.join(',')}]}`);
    writeSync(fd, body, 0, body.length, file.bytes);
    file.batches.push({ offset: file.bytes, length: body.length, count: parts.length });
    file.bytes += body.length;
    parts = [];
  };
  try {
    for (const { index, dup } of sendOrder(d.records, fraction, d.seed)) {
      const { json, totalTokens } = usageRecord(d, index);
      parts.push(json);
      file.sent += 1;
      if (dup) file.duplicatesSent += 1;
      else file.uniqueTotalTokens += totalTokens;
      if (parts.length === batch) flush();
      if (file.sent % 10_000 === 0) progress.update(file.sent);
    }
    if (parts.length > 0) flush();
  } finally {
    closeSync(fd);
  }
  progress.update(file.sent);
  progress.finish();
  return file;
}
