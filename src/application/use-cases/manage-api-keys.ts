import { inject, injectable } from 'tsyringe';
import { NotFoundError } from '../../domain/errors';
import type { Principal } from '../../domain/principal';
import type { ApiKeyInfo, ApiKeyStore } from '../ports/api-key-store.port';
import { TOKENS } from '../ports/tokens';

@injectable()
export class ManageApiKeys {
  constructor(@inject(TOKENS.ApiKeyStore) private readonly keys: ApiKeyStore) {}

  create(workspaceId: string, name: string, createdBy: string): Promise<{ key: string; info: ApiKeyInfo }> {
    return this.keys.create(workspaceId, name, createdBy);
  }

  list(workspaceId: string): Promise<ApiKeyInfo[]> {
    return this.keys.list(workspaceId);
  }

  async revoke(workspaceId: string, id: string): Promise<void> {
    if (!(await this.keys.revoke(workspaceId, id))) throw new NotFoundError(`no active API key with id ${id}`);
  }

  /** The principal an API key stands for, or null for an unknown or revoked key. */
  async authenticate(presented: string): Promise<Principal | null> {
    const info = await this.keys.verify(presented);
    return info ? { kind: 'api-key', workspaceId: info.workspaceId, keyId: info.id } : null;
  }
}
