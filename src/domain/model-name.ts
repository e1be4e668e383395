/**
 * Names under which a reported model may be found in the catalog, best first. Providers
 * report dated snapshots and deployment-specific ids; the catalog usually lists the family:
 *   "GPT-4o-2024-08-06"                          -> "gpt-4o-2024-08-06", "gpt-4o"
 *   "claude-3-5-sonnet-20241022"                 -> …, "claude-3-5-sonnet"
 *   "us.anthropic.claude-3-haiku-20240307-v1:0"  -> …, "claude-3-haiku"
 *   "models/gemini-1.5-pro-002"                  -> …, "gemini-1.5-pro"
 */
export function modelLookupKeys(reported: string): string[] {
  const keys: string[] = [];
  const add = (name: string): void => {
    if (name && !keys.includes(name)) keys.push(name);
  };
  let name = reported.trim().toLowerCase();
  add(name);
  // path-like prefixes: "models/…", "openai/…"
  name = name.slice(name.lastIndexOf('/') + 1);
  add(name);
  // Bedrock: region prefix (the catalog lists "amazon.nova-lite-v1:0", callers send the
  // cross-region "us.amazon.nova-lite-v1:0"), then vendor prefix, then version suffix
  name = name.replace(/^(us|eu|apac|global)\./, '');
  add(name);
  name = name.replace(/^[a-z0-9-]+\.(?=[a-z])/, (p) =>
    /^(anthropic|meta|amazon|cohere|mistral|ai21|deepseek|openai)\.$/.test(p) ? '' : p,
  );
  add(name);
  name = name.replace(/-v\d+(:\d+)?$/, '');
  add(name);
  // dated snapshots and release tags
  const undated = name
    .replace(/[-@](\d{4}-\d{2}-\d{2}|\d{8})$/, '')
    .replace(/-(\d{4})$/, (m, mmdd: string) => (/^(0[1-9]|1[0-2])\d{2}$/.test(mmdd) ? '' : m))
    .replace(/-(latest|\d{3})$/, '');
  add(undated);
  return keys;
}

export function normalizeProvider(reported: string): string {
  const provider = reported.trim().toLowerCase();
  return PROVIDER_ALIASES[provider] ?? provider;
}

const PROVIDER_ALIASES: Record<string, string> = {
  gemini: 'google',
  'google-gemini': 'google',
  vertex: 'google',
  'vertex-ai': 'google',
  'google-vertex': 'google',
  bedrock: 'aws',
  'aws-bedrock': 'aws',
  'azure-openai': 'azure',
  xai: 'x-ai',
  mistralai: 'mistral',
};
