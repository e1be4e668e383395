import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { inject, injectable } from 'tsyringe';
import { DataSource, IsNull, type Repository } from 'typeorm';
import type { ApiKeyInfo, ApiKeyStore } from '../../application/ports/api-key-store.port';
import { ApiKeyEntity } from './entities';

function toInfo(row: ApiKeyEntity): ApiKeyInfo {
  return {
    id: row.id,
    workspaceId: row.workspaceId,
    name: row.name,
    prefix: row.prefix,
    createdBy: row.createdBy,
    createdAt: row.createdAt,
    lastUsedAt: row.lastUsedAt,
    revokedAt: row.revokedAt,
  };
}

/**
 * Keys look like `tt_<workspace, base64url>.<secret>`: the workspace part lets a key be
 * found by (workspace, hash of secret), a lookup on the table's workspace-led unique key.
 * The secret has 256 random bits, so a plain SHA-256 is a sound hash for it.
 */
@injectable()
export class PgApiKeyStore implements ApiKeyStore {
  private readonly keys: Repository<ApiKeyEntity>;

  constructor(@inject(DataSource) db: DataSource) {
    this.keys = db.getRepository(ApiKeyEntity);
  }

  async create(workspaceId: string, name: string, createdBy: string): Promise<{ key: string; info: ApiKeyInfo }> {
    const secret = randomBytes(32).toString('base64url');
    const key = `tt_${Buffer.from(workspaceId).toString('base64url')}.${secret}`;
    const row = this.keys.create({
      workspaceId,
      id: randomUUID(),
      name,
      prefix: `${key.slice(0, key.indexOf('.') + 7)}…`,
      secretHash: hash(secret),
      createdBy,
      lastUsedAt: null,
      revokedAt: null,
    });
    // created_at is the database's now(), returned by the insert into the entity
    await this.keys.insert(row);
    return { key, info: toInfo(row) };
  }

  async list(workspaceId: string): Promise<ApiKeyInfo[]> {
    const rows = await this.keys.find({ where: { workspaceId }, order: { createdAt: 'DESC', id: 'ASC' } });
    return rows.map(toInfo);
  }

  async revoke(workspaceId: string, id: string): Promise<boolean> {
    const result = await this.keys.update({ workspaceId, id, revokedAt: IsNull() }, { revokedAt: () => 'now()' });
    return (result.affected ?? 0) > 0;
  }

  async verify(presented: string): Promise<ApiKeyInfo | null> {
    const match = /^tt_([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]{43})$/.exec(presented);
    if (!match) return null;
    const workspaceId = Buffer.from(match[1]!, 'base64url').toString('utf8');
    const row = await this.keys.findOneBy({ workspaceId, secretHash: hash(match[2]!), revokedAt: IsNull() });
    if (!row) return null;
    // at most one write a minute per key, not one per request
    if (!row.lastUsedAt || Date.now() - row.lastUsedAt.getTime() > 60_000) {
      await this.keys.update({ workspaceId: row.workspaceId, id: row.id }, { lastUsedAt: () => 'now()' });
    }
    return toInfo(row);
  }
}

function hash(secret: string): Buffer {
  return createHash('sha256').update(secret).digest();
}
