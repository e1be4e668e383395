/** The token lives in this browser tab only (sessionStorage): closing the tab signs out. */
const KEY = 'tokentally.token';

export interface Claims {
  sub: string;
  role: 'admin' | 'member';
  workspaceId?: string;
}

export const storedToken = (): string | null => sessionStorage.getItem(KEY);
export const storeToken = (token: string): void => sessionStorage.setItem(KEY, token);
export const forgetToken = (): void => sessionStorage.removeItem(KEY);

/** What the page shows about the caller; the service checks the signature and the role. */
export function claimsOf(token: string): Claims | null {
  const payload = token.split('.')[1];
  if (!payload) return null;
  try {
    const json = JSON.parse(atob(payload.replace(/-/g, '+').replace(/_/g, '/'))) as Partial<Claims>;
    if (typeof json.sub !== 'string') return null;
    return { sub: json.sub, role: json.role === 'admin' ? 'admin' : 'member', workspaceId: json.workspaceId };
  } catch {
    return null;
  }
}
