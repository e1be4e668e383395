import { Column, Entity, PrimaryColumn } from 'typeorm';

/** A row of `catalog_sources`: which version of a price source the built-in catalog was loaded from. */
@Entity({ name: 'catalog_sources' })
export class CatalogSourceEntity {
  @PrimaryColumn({ name: 'workspace_id', type: 'text' })
  workspaceId!: string;

  @PrimaryColumn({ name: 'name', type: 'text' })
  name!: string;

  @Column({ name: 'version', type: 'text' })
  version!: string;

  @Column({ name: 'loaded_at', type: 'timestamp with time zone', default: () => 'now()' })
  loadedAt!: Date;
}
