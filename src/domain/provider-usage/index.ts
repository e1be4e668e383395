/**
 * Provider usage objects as the providers return them, mapped to Tokentally's token fields.
 * Pure: used by ingest, and by every intake that sees a provider's own response.
 */
export {
  PROVIDER_USAGE_FORMATS,
  PROVIDER_OF_FORMAT,
  isProviderUsageFormat,
  type ProviderTokens,
  type ProviderUsageError,
  type ProviderUsageFormat,
  type ProviderUsageResult,
} from './formats';
export { MAX_TOKEN_COUNT } from './counts';
export { GEMINI_NAMES, mapProviderUsage, type GeminiNames } from './map-usage';
export { detectUsageFormat, type DetectedFormat } from './detect';
export { readProviderResponse, type ProviderResponseReading } from './read-response';
