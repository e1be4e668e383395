import {
  detectUsageFormat,
  isProviderUsageFormat,
  mapProviderUsage,
  PROVIDER_USAGE_FORMATS,
  readProviderResponse,
  type ProviderTokens,
  type ProviderUsageResult,
} from '../../../domain/provider-usage';
import type { FieldError } from '../../../domain/token-usage';
import { TOKEN_ALIASES } from './usage-records.schemas';

/** A record's fields after its shape was checked; the tokens may come in one of several ways. */
export interface RecordFields {
  requestId?: string;
  provider?: string;
  model?: string;
  inputTokens?: number;
  outputTokens?: number;
  cachedInputTokens?: number;
  cacheWriteTokens?: number;
  cacheWrite1hTokens?: number;
  reasoningTokens?: number;
  totalTokens?: number;
  usage?: unknown;
  usageFormat?: string;
  response?: unknown;
  [alias: string]: unknown;
}

/** Who made the call and its tokens, in our fields, whichever way the record gave them. */
export interface RecordTokens {
  requestId: string;
  provider: string;
  model: string;
  inputTokens: number;
  outputTokens: number;
  cachedInputTokens?: number;
  cacheWriteTokens?: number;
  cacheWrite1hTokens?: number;
  reasoningTokens?: number;
  totalTokens?: number;
}

export type RecordTokensResult = { ok: true; value: RecordTokens } | { ok: false; errors: FieldError[] };

const OUR_TOKEN_FIELDS = [
  'inputTokens',
  'outputTokens',
  'cachedInputTokens',
  'cacheWriteTokens',
  'cacheWrite1hTokens',
  'reasoningTokens',
  'totalTokens',
] as const;
const IDENTITY = ['requestId', 'provider', 'model'] as const;
/** The pairs of names a record may give its input and output under, ours first. */
const TOKEN_NAMES = [{ input: 'inputTokens', output: 'outputTokens' }, ...TOKEN_ALIASES] as const;

const REQUIRED = 'Expected required property';

/** The record's tokens from `usage`, `response`, our fields or their seed-era names. */
export function recordTokens(record: RecordFields): RecordTokensResult {
  if (isPlain(record)) {
    // the common case, without the lists the other cases build
    return {
      ok: true,
      value: {
        requestId: record.requestId,
        provider: record.provider,
        model: record.model,
        inputTokens: record.inputTokens,
        outputTokens: record.outputTokens,
        cachedInputTokens: record.cachedInputTokens,
        cacheWriteTokens: record.cacheWriteTokens,
        cacheWrite1hTokens: record.cacheWrite1hTokens,
        reasoningTokens: record.reasoningTokens,
        totalTokens: record.totalTokens,
      },
    };
  }
  if (record.usage !== undefined || record.response !== undefined) return fromProviderObject(record);
  const errors = missingIdentity(record);
  if (record.usageFormat !== undefined) {
    errors.push({
      path: '/usageFormat',
      message: 'usageFormat describes `usage` or `response`; the record has neither',
    });
  }
  const names = tokenNames(record, errors);
  if (errors.length > 0 || !names) return { ok: false, errors };
  return {
    ok: true,
    value: {
      requestId: record.requestId!,
      provider: record.provider!,
      model: record.model!,
      inputTokens: record[names.input] as number,
      outputTokens: record[names.output] as number,
      cachedInputTokens: record.cachedInputTokens,
      cacheWriteTokens: record.cacheWriteTokens,
      cacheWrite1hTokens: record.cacheWrite1hTokens,
      reasoningTokens: record.reasoningTokens,
      totalTokens: record.totalTokens,
    },
  };
}

/** Our fields, all required ones present, nothing else that gives tokens. */
function isPlain(record: RecordFields): record is RecordFields & RecordTokens {
  return (
    record.inputTokens !== undefined &&
    record.outputTokens !== undefined &&
    record.requestId !== undefined &&
    record.provider !== undefined &&
    record.model !== undefined &&
    record.usage === undefined &&
    record.response === undefined &&
    record.usageFormat === undefined &&
    record.promptTokens === undefined &&
    record.completionTokens === undefined &&
    record.prompt_tokens === undefined &&
    record.completion_tokens === undefined
  );
}

/** Required fields that are missing; those a response supplies are not required with it. */
export function missingIdentity(record: Record<string, unknown>): FieldError[] {
  if (record.response !== undefined) return [];
  return IDENTITY.filter((field) => record[field] === undefined).map((field) => ({
    path: `/${field}`,
    message: REQUIRED,
  }));
}

/** Which pair of names the record gives its tokens under: exactly one name each for input and output, from one pair. */
function tokenNames(record: RecordFields, errors: FieldError[]): { input: string; output: string } | undefined {
  const given = TOKEN_NAMES.filter((pair) => record[pair.input] !== undefined || record[pair.output] !== undefined);
  if (given.length === 0) {
    errors.push({ path: '/inputTokens', message: REQUIRED }, { path: '/outputTokens', message: REQUIRED });
    return undefined;
  }
  const [pair, ...others] = given;
  for (const other of others) {
    const name = record[other.input] !== undefined ? other.input : other.output;
    errors.push({
      path: `/${name}`,
      message: `${name} is another name of ${canonical(name)}; give each count once, under one pair of names (here ${pair!.input}/${pair!.output})`,
    });
  }
  for (const name of [pair!.input, pair!.output]) {
    if (record[name] === undefined) errors.push({ path: `/${name}`, message: REQUIRED });
  }
  return errors.length > 0 ? undefined : pair;
}

function canonical(name: string): string {
  return TOKEN_NAMES.some((pair) => pair.input === name) ? 'inputTokens' : 'outputTokens';
}

function fromProviderObject(record: RecordFields): RecordTokensResult {
  const source = record.usage !== undefined ? 'usage' : 'response';
  const errors: FieldError[] = missingIdentity(record);
  if (record.usage !== undefined && record.response !== undefined) {
    errors.push({ path: '/response', message: 'give either usage or response, not both' });
  }
  const aliases = TOKEN_ALIASES.flatMap((pair) => [pair.input, pair.output]);
  for (const name of [...OUR_TOKEN_FIELDS, ...aliases]) {
    if (record[name] !== undefined) {
      errors.push({ path: `/${name}`, message: `${name} cannot be given with ${source}: the tokens are read from it` });
    }
  }
  const { usageFormat } = record;
  if (usageFormat !== undefined && !isProviderUsageFormat(usageFormat)) {
    errors.push({ path: '/usageFormat', message: `usageFormat must be one of ${PROVIDER_USAGE_FORMATS.join(', ')}` });
  }
  if (errors.length > 0) return { ok: false, errors };
  const format = usageFormat as (typeof PROVIDER_USAGE_FORMATS)[number] | undefined;

  if (source === 'usage') {
    const mapped = mapUsage(record.usage, format);
    if (!mapped.ok) return { ok: false, errors: [{ path: `/usage${mapped.path}`, message: mapped.message }] };
    return {
      ok: true,
      value: withIdentity(
        record as RecordFields & Required<Pick<RecordFields, 'requestId' | 'provider' | 'model'>>,
        mapped.tokens,
      ),
    };
  }

  const read = readProviderResponse(record.response, format);
  if (!read.ok) return { ok: false, errors: [{ path: `/response${read.path}`, message: read.message }] };
  const requestId = record.requestId ?? read.requestId;
  const model = record.model ?? read.model;
  if (requestId === undefined) errors.push({ path: '/requestId', message: `${REQUIRED}: the response carries no id` });
  else if (record.requestId === undefined) checkTaken('id', requestId, errors);
  if (model === undefined)
    errors.push({ path: '/model', message: `${REQUIRED}: the response does not name its model` });
  else if (record.model === undefined) checkTaken('model', model, errors);
  if (errors.length > 0) return { ok: false, errors };
  return {
    ok: true,
    value: withIdentity(
      { requestId: requestId!, model: model!, provider: record.provider ?? read.provider },
      read.tokens,
    ),
  };
}

function mapUsage(usage: unknown, format: (typeof PROVIDER_USAGE_FORMATS)[number] | undefined): ProviderUsageResult {
  if (format) return mapProviderUsage(format, usage);
  const detected = detectUsageFormat(usage);
  return detected.ok ? mapProviderUsage(detected.format, usage) : detected;
}

function withIdentity(
  identity: { requestId: string; provider: string; model: string },
  tokens: ProviderTokens,
): RecordTokens {
  return {
    requestId: identity.requestId,
    provider: identity.provider,
    model: identity.model,
    inputTokens: tokens.inputTokens,
    outputTokens: tokens.outputTokens,
    cachedInputTokens: tokens.cachedInputTokens,
    cacheWriteTokens: tokens.cacheWriteTokens,
    cacheWrite1hTokens: tokens.cacheWrite1hTokens,
    reasoningTokens: tokens.reasoningTokens,
  };
}

/** A value read from a response must be one the field itself would take. */
function checkTaken(what: 'id' | 'model', value: string, errors: FieldError[]): void {
  const field = what === 'id' ? 'requestId' : 'model';
  if (value.length === 0 || value.length > 200 || (what === 'model' && !/\S/.test(value))) {
    errors.push({
      path: `/${field}`,
      message: `the response's ${what} is not a usable ${field} (1 to 200 characters); give ${field}`,
    });
  } else if (value.includes('\u0000')) {
    errors.push({
      path: `/${field}`,
      message: `the response's ${what} contains the NUL character (U+0000); give ${field}`,
    });
  }
}
