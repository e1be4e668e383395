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
 * How long a verified key is accepted from memory. A key revoked through this instance is
 * refused at once; other instances of the service may accept it for up to this long.
 */
export const VERIFIED_KEY_MS = 5_000;
const MAX_VERIFIED_KEYS = 10_000;
/** at most one write of last_used_at a minute per key, not one per request */
const LAST_USED_EVERY_MS = 60_000;

/**
 * Keys look like `tt_<workspace, base64url>.<secret>`: the workspace part lets a key be
 * found by (workspace, hash of secret), a lookup on the table's workspace-led unique key.
 * The secret has 256 random bits, so a plain SHA-256 is a sound hash for it.
 */
@injectable()
export class PgApiKeyStore implements ApiKeyStore {
  private readonly keys: Repository<ApiKeyEntity>;
  /** verified keys by workspace and hash of secret; unknown and revoked keys are never kept */
  private readonly verified = new Map<string, { info: ApiKeyInfo; until: number }>();
  /** bumped by every revocation on this instance: a lookup that overlapped one is not kept */
  private revocations = 0;

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
    this.revocations += 1;
    try {
      const result = await this.keys.update({ workspaceId, id, revokedAt: IsNull() }, { revokedAt: () => 'now()' });
      return (result.affected ?? 0) > 0;
    } finally {
      // again after the commit: a lookup that read the key before it is not kept either
      this.revocations += 1;
      for (const [key, kept] of this.verified) {
        if (kept.info.workspaceId === workspaceId && kept.info.id === id) this.verified.delete(key);
      }
    }
  }

  async verify(presented: string): Promise<ApiKeyInfo | null> {
    const match = /^tt_([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]{43})$/.exec(presented);
    if (!match) return null;
    const workspaceId = Buffer.from(match[1]!, 'base64url').toString('utf8');
    const secretHash = hash(match[2]!);
    const cacheKey = `${workspaceId}\u0000${secretHash.toString('base64')}`;
    const now = Date.now();
    const kept = this.verified.get(cacheKey);
    if (kept && kept.until > now) {
      if (!kept.info.lastUsedAt || now - kept.info.lastUsedAt.getTime() > LAST_USED_EVERY_MS) {
        await this.markUsed(kept.info);
      }
      return kept.info;
    }
    const revocations = this.revocations;
    const row = await this.keys.findOneBy({ workspaceId, secretHash, revokedAt: IsNull() });
    if (!row) return null;
    const info = toInfo(row);
    if (!info.lastUsedAt || Date.now() - info.lastUsedAt.getTime() > LAST_USED_EVERY_MS) await this.markUsed(info);
    if (revocations === this.revocations) {
      this.verified.delete(cacheKey);
      if (this.verified.size >= MAX_VERIFIED_KEYS) this.verified.delete(this.verified.keys().next().value!);
      this.verified.set(cacheKey, { info, until: Date.now() + VERIFIED_KEY_MS });
    }
    return info;
  }

  private async markUsed(info: ApiKeyInfo): Promise<void> {
    info.lastUsedAt = new Date();
    await this.keys.update({ workspaceId: info.workspaceId, id: info.id }, { lastUsedAt: () => 'now()' });
  }
}

function hash(secret: string): Buffer {
  return createHash('sha256').update(secret).digest();
}
