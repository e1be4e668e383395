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

  /** The long-context tier: null, with every long_context_* rate, when the version has none. */
  @Column({ name: 'long_context_above_input_tokens', type: 'integer', nullable: true })
  longContextAboveInputTokens!: number | null;

  @Column({ name: 'long_context_input_per_million', type: 'numeric', nullable: true })
  longContextInputPerMillion!: string | null;

  @Column({ name: 'long_context_output_per_million', type: 'numeric', nullable: true })
  longContextOutputPerMillion!: string | null;

  @Column({ name: 'long_context_cached_input_per_million', type: 'numeric', nullable: true })
  longContextCachedInputPerMillion!: string | null;

  @Column({ name: 'long_context_cache_write_per_million', type: 'numeric', nullable: true })
  longContextCacheWritePerMillion!: string | null;

  @Column({ name: 'long_context_cache_write_1h_per_million', type: 'numeric', nullable: true })
  longContextCacheWrite1hPerMillion!: string | null;

  @Column({ name: 'long_context_reasoning_per_million', type: 'numeric', nullable: true })
  longContextReasoningPerMillion!: string | null;
}
