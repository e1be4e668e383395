import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Time-of-day prices: a price version may have daily windows (UTC) with rates of their own,
 * e.g. DeepSeek's peak hours, at which a call made inside one is priced. One row per window,
 * in the order they apply (where two overlap, the later one wins), deleted with its version.
 * The built-in catalog is loaded again with its windows.
 */
export class TimeOfDayPrices1796590000000 implements MigrationInterface {
  name = 'TimeOfDayPrices1796590000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE model_price_windows (
        workspace_id               text        NOT NULL,
        model_id                   uuid        NOT NULL,
        effective_from             timestamptz NOT NULL,
        position                   smallint    NOT NULL CHECK (position >= 0),
        start_second               integer     NOT NULL CHECK (start_second >= 0 AND start_second < 86400),
        end_second                 integer     NOT NULL CHECK (end_second >= 0 AND end_second < 86400),
        input_per_million          numeric     NOT NULL CHECK (input_per_million >= 0),
        output_per_million         numeric     NOT NULL CHECK (output_per_million >= 0),
        cached_input_per_million   numeric     CHECK (cached_input_per_million >= 0),
        cache_write_per_million    numeric     CHECK (cache_write_per_million >= 0),
        cache_write_1h_per_million numeric     CHECK (cache_write_1h_per_million >= 0),
        reasoning_per_million      numeric     CHECK (reasoning_per_million >= 0),
        PRIMARY KEY (workspace_id, model_id, effective_from, position),
        FOREIGN KEY (workspace_id, model_id, effective_from)
          REFERENCES model_prices (workspace_id, model_id, effective_from) ON DELETE CASCADE,
        CHECK (end_second <> start_second)
      )`);
    await db.query(`DELETE FROM catalog_sources WHERE workspace_id = ''`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP TABLE model_price_windows`);
  }
}
