import type { MigrationInterface, QueryRunner } from 'typeorm';

const RATES = [
  'input_per_million',
  'output_per_million',
  'cached_input_per_million',
  'cache_write_per_million',
  'cache_write_1h_per_million',
  'reasoning_per_million',
];

/**
 * Long-context pricing: a price version may have a tier whose rates price a whole call whose
 * input is above a number of tokens (Gemini 2.5 Pro above 200k, GPT-5.4 above 272k). The tier
 * is there whole or not at all: its threshold, input and output rates together; its other
 * rates fall back within it. The built-in catalog is loaded again with its tiers.
 */
export class LongContextPrices1796580000000 implements MigrationInterface {
  name = 'LongContextPrices1796580000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      ALTER TABLE model_prices
        ADD COLUMN long_context_above_input_tokens integer CHECK (long_context_above_input_tokens > 0),
        ${RATES.map((r) => `ADD COLUMN long_context_${r} numeric CHECK (long_context_${r} >= 0)`).join(',\n        ')},
        ADD CONSTRAINT model_prices_long_context_whole CHECK (
          (long_context_above_input_tokens IS NULL) = (long_context_input_per_million IS NULL)
          AND (long_context_above_input_tokens IS NULL) = (long_context_output_per_million IS NULL)
          AND (long_context_above_input_tokens IS NOT NULL OR num_nonnulls(${RATES.map((r) => `long_context_${r}`).join(', ')}) = 0))`);
    await db.query(`DELETE FROM catalog_sources WHERE workspace_id = ''`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`
      ALTER TABLE model_prices
        DROP CONSTRAINT model_prices_long_context_whole,
        DROP COLUMN long_context_above_input_tokens,
        ${RATES.map((r) => `DROP COLUMN long_context_${r}`).join(',\n        ')}`);
  }
}
