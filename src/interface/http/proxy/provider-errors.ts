/**
 * The proxy's own refusals in the error shape of the provider the client speaks to, so that
 * its SDK raises its usual error class (OpenAI: `{error:{message,type,param,code}}`,
 * Anthropic: `{type:"error",error:{type,message}}`).
 */
export function providerError(provider: 'openai' | 'anthropic', status: number, code: string, message: string): object {
  if (provider === 'anthropic') {
    return { type: 'error', error: { type: anthropicType(status), message } };
  }
  return { error: { message, type: openaiType(status), param: null, code } };
}

function openaiType(status: number): string {
  if (status === 429) return 'insufficient_quota';
  if (status === 401) return 'authentication_error';
  if (status >= 500) return 'server_error';
  return 'invalid_request_error';
}

function anthropicType(status: number): string {
  if (status === 429) return 'rate_limit_error';
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 404) return 'not_found_error';
  if (status === 413) return 'request_too_large';
  if (status >= 500) return 'api_error';
  return 'invalid_request_error';
}
