export interface ApiKeyInfo {
  id: string;
  workspaceId: string;
  name: string;
  /** the first characters of the key, enough to recognise it */
  prefix: string;
  createdBy: string;
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

export interface ApiKeyStore {
  /** Creates a key; the secret is returned here once and only its hash is kept. */
  create(workspaceId: string, name: string, createdBy: string): Promise<{ key: string; info: ApiKeyInfo }>;
  list(workspaceId: string): Promise<ApiKeyInfo[]>;
  /** Returns false when the workspace has no such active key. */
  revoke(workspaceId: string, id: string): Promise<boolean>;
  /** The active key matching a presented secret, or null. */
  verify(presented: string): Promise<ApiKeyInfo | null>;
}
