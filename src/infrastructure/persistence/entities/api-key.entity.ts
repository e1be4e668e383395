import { Column, Entity, PrimaryColumn, Unique } from 'typeorm';

/** A row of `api_keys`: one key of a workspace, found by the hash of its secret. */
@Entity({ name: 'api_keys' })
@Unique('api_keys_workspace_id_secret_hash_key', ['workspaceId', 'secretHash'])
export class ApiKeyEntity {
  @PrimaryColumn({ name: 'workspace_id', type: 'text' })
  workspaceId!: string;

  @PrimaryColumn({ name: 'id', type: 'uuid' })
  id!: string;

  @Column({ name: 'name', type: 'text' })
  name!: string;

  @Column({ name: 'prefix', type: 'text' })
  prefix!: string;

  /** SHA-256 of the secret; never read back unless asked for */
  @Column({ name: 'secret_hash', type: 'bytea', select: false })
  secretHash!: Buffer;

  @Column({ name: 'created_by', type: 'text' })
  createdBy!: string;

  @Column({ name: 'created_at', type: 'timestamp with time zone', default: () => 'now()' })
  createdAt!: Date;

  @Column({ name: 'last_used_at', type: 'timestamp with time zone', nullable: true })
  lastUsedAt!: Date | null;

  @Column({ name: 'revoked_at', type: 'timestamp with time zone', nullable: true })
  revokedAt!: Date | null;
}
