import { Column, Entity, PrimaryColumn, Unique } from 'typeorm';
import type { ModelKind } from '../../../domain/model-price';

/**
 * A row of `models`: a model of a workspace's own catalog, or of the built-in catalog under
 * workspace ''. Its price versions are `model_prices` rows with the same (workspace_id, id).
 */
@Entity({ name: 'models' })
@Unique('models_workspace_id_provider_model_key', ['workspaceId', 'provider', 'model'])
export class ModelEntity {
  @PrimaryColumn({ name: 'workspace_id', type: 'text' })
  workspaceId!: string;

  @PrimaryColumn({ name: 'id', type: 'uuid' })
  id!: string;

  @Column({ name: 'provider', type: 'text' })
  provider!: string;

  @Column({ name: 'model', type: 'text' })
  model!: string;

  /** 'language' or 'embedding' (a check constraint in the schema) */
  @Column({ name: 'kind', type: 'text' })
  kind!: ModelKind;

  /** 'workspace' for a workspace's own entry, else the catalog source it was loaded from */
  @Column({ name: 'source', type: 'text' })
  source!: string;

  @Column({ name: 'created_at', type: 'timestamp with time zone', default: () => 'now()' })
  createdAt!: Date;
}
