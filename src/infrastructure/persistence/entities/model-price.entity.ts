import { Column, Entity, PrimaryColumn } from 'typeorm';

/**
 * A row of `model_prices`: one price version of a model, in USD per million tokens. Prices
 * are exact decimals and stay strings here (PostgreSQL numeric text), never JS numbers. The
 * foreign key to `models` (deleted with it) is the migration's; no relation is mapped.
 */
@Entity({ name: 'model_prices' })
export class ModelPriceEntity {
  @PrimaryColumn({ name: 'workspace_id', type: 'text' })
  workspaceId!: string;

  @PrimaryColumn({ name: 'model_id', type: 'uuid' })
  modelId!: string;

  @PrimaryColumn({ name: 'effective_from', type: 'timestamp with time zone' })
  effectiveFrom!: Date;

  @Column({ name: 'input_per_million', type: 'numeric' })
  inputPerMillion!: string;

  @Column({ name: 'output_per_million', type: 'numeric' })
  outputPerMillion!: string;

  @Column({ name: 'cached_input_per_million', type: 'numeric', nullable: true })
  cachedInputPerMillion!: string | null;

  @Column({ name: 'cache_write_per_million', type: 'numeric', nullable: true })
  cacheWritePerMillion!: string | null;

  @Column({ name: 'cache_write_1h_per_million', type: 'numeric', nullable: true })
  cacheWrite1hPerMillion!: string | null;

  @Column({ name: 'reasoning_per_million', type: 'numeric', nullable: true })
  reasoningPerMillion!: string | null;
}
