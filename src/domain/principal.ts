export type Role = 'admin' | 'member';

/** Who is calling: a signed-in user (JWT) or a backend holding an API key. */
export type Principal =
  | { kind: 'user'; workspaceId: string; userId: string; role: Role }
  | { kind: 'api-key'; workspaceId: string; keyId: string };
