import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { inject, injectable } from 'tsyringe';
import { DataSource } from 'typeorm';
import type { ApiKeyInfo, ApiKeyStore } from '../../application/ports/api-key-store.port';

interface ApiKeyRow {
  workspace_id: string;
  id: string;
  name: string;
  prefix: string;
  created_by: string;
  created_at: Date;
  last_used_at: Date | null;
  revoked_at: Date | null;
}

const COLUMNS = 'workspace_id, id, name, prefix, created_by, created_at, last_used_at, revoked_at';

function toInfo(row: ApiKeyRow): ApiKeyInfo {
  return {
    id: row.id,
    workspaceId: row.workspace_id,
    name: row.name,
    prefix: row.prefix,
    createdBy: row.created_by,
    createdAt: row.created_at,
    lastUsedAt: row.last_used_at,
    revokedAt: row.revoked_at,
  };
}

/**
 * Keys look like `tt_<workspace, base64url>.<secret>`: the workspace part lets a key be
 * found by (workspace, hash of secret), a lookup on the table's workspace-led unique key.
 * The secret has 256 random bits, so a plain SHA-256 is a sound hash for it.
 */
@injectable()
export class PgApiKeyStore implements ApiKeyStore {
  constructor(@inject(DataSource) private readonly db: DataSource) {}

  async create(workspaceId: string, name: string, createdBy: string): Promise<{ key: string; info: ApiKeyInfo }> {
    const secret = randomBytes(32).toString('base64url');
    const key = `tt_${Buffer.from(workspaceId).toString('base64url')}.${secret}`;
    const rows = (await this.db.query(
      `INSERT INTO api_keys (workspace_id, id, name, prefix, secret_hash, created_by)
       VALUES ($1, $2, $3, $4, $5, $6) RETURNING ${COLUMNS}`,
      [workspaceId, randomUUID(), name, `${key.slice(0, key.indexOf('.') + 7)}…`, hash(secret), createdBy],
    )) as ApiKeyRow[];
    return { key, info: toInfo(rows[0]!) };
  }

  async list(workspaceId: string): Promise<ApiKeyInfo[]> {
    const rows = (await this.db.query(
      `SELECT ${COLUMNS} FROM api_keys WHERE workspace_id = $1 ORDER BY created_at DESC, id`,
      [workspaceId],
    )) as ApiKeyRow[];
    return rows.map(toInfo);
  }

  async revoke(workspaceId: string, id: string): Promise<boolean> {
    const [, affected] = (await this.db.query(
      `UPDATE api_keys SET revoked_at = now() WHERE workspace_id = $1 AND id = $2 AND revoked_at IS NULL`,
      [workspaceId, id],
    )) as [unknown, number];
    return affected > 0;
  }

  async verify(presented: string): Promise<ApiKeyInfo | null> {
    const match = /^tt_([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]{43})$/.exec(presented);
    if (!match) return null;
    const workspaceId = Buffer.from(match[1]!, 'base64url').toString('utf8');
    const rows = (await this.db.query(
      `SELECT ${COLUMNS} FROM api_keys WHERE workspace_id = $1 AND secret_hash = $2 AND revoked_at IS NULL`,
      [workspaceId, hash(match[2]!)],
    )) as ApiKeyRow[];
    const row = rows[0];
    if (!row) return null;
    // at most one write a minute per key, not one per request
    if (!row.last_used_at || Date.now() - row.last_used_at.getTime() > 60_000) {
      await this.db.query(`UPDATE api_keys SET last_used_at = now() WHERE workspace_id = $1 AND id = $2`, [
        row.workspace_id,
        row.id,
      ]);
    }
    return toInfo(row);
  }
}

function hash(secret: string): Buffer {
  return createHash('sha256').update(secret).digest();
}
