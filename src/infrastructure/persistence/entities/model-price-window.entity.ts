import { Column, Entity, PrimaryColumn } from 'typeorm';

/**
 * A row of `model_price_windows`: a daily window (UTC seconds, end excluded, wrapping midnight
 * when it ends before it starts) in which a price version has rates of its own, USD per
 * million tokens as exact decimal text. Deleted with its version (the migration's key).
 */
@Entity({ name: 'model_price_windows' })
export class ModelPriceWindowEntity {
  @PrimaryColumn({ name: 'workspace_id', type: 'text' })
  workspaceId!: string;

  @PrimaryColumn({ name: 'model_id', type: 'uuid' })
  modelId!: string;

  @PrimaryColumn({ name: 'effective_from', type: 'timestamp with time zone' })
  effectiveFrom!: Date;

  /** the order windows apply in: where two overlap, the later one wins */
  @PrimaryColumn({ name: 'position', type: 'smallint' })
  position!: number;

  @Column({ name: 'start_second', type: 'integer' })
  startSecond!: number;

  @Column({ name: 'end_second', type: 'integer' })
  endSecond!: number;

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
