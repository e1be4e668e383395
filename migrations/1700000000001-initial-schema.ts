import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Every primary and unique key leads with workspace_id, so each table can be distributed
 * by workspace (Citus) unchanged. The built-in model catalog lives under workspace ''.
 */
export class InitialSchema1700000000001 implements MigrationInterface {
  name = 'InitialSchema1700000000001';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE usage_records (
        workspace_id        text        NOT NULL,
        occurred_at         timestamptz NOT NULL,
        request_id          text        NOT NULL,
        user_id             text        NOT NULL,
        provider            text        NOT NULL,
        model               text        NOT NULL,
        operation           text,
        input_tokens        bigint      NOT NULL,
        output_tokens       bigint      NOT NULL,
        cached_input_tokens bigint      NOT NULL DEFAULT 0,
        cache_write_tokens  bigint      NOT NULL DEFAULT 0,
        reasoning_tokens    bigint      NOT NULL DEFAULT 0,
        total_tokens        bigint      NOT NULL,
        duration_ms         integer,
        success             boolean     NOT NULL,
        error               text,
        cost                numeric,
        cost_status         text        NOT NULL CHECK (cost_status IN ('computed', 'provided', 'unpriced')),
        metadata            jsonb,
        received_at         timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (workspace_id, occurred_at, request_id)
      ) PARTITION BY RANGE (occurred_at)`);
    await db.query(`CREATE INDEX usage_records_occurred_brin ON usage_records USING brin (occurred_at)`);
    await db.query(`CREATE INDEX usage_records_user ON usage_records (workspace_id, user_id, occurred_at)`);

    // Dedup ledger: a unique key on the partitioned table would have to include occurred_at,
    // and a re-sent record may carry another occurredAt. It outlives dropped partitions.
    await db.query(`
      CREATE TABLE usage_request_ids (
        workspace_id text        NOT NULL,
        request_id   text        NOT NULL,
        occurred_at  timestamptz NOT NULL,
        PRIMARY KEY (workspace_id, request_id)
      )`);

    // Hourly rollup, kept exact in the ingest transaction; charts and totals read it.
    await db.query(`
      CREATE TABLE usage_hourly (
        workspace_id        text        NOT NULL,
        bucket_start        timestamptz NOT NULL,
        user_id             text        NOT NULL,
        provider            text        NOT NULL,
        model               text        NOT NULL,
        requests            bigint      NOT NULL,
        errors              bigint      NOT NULL,
        input_tokens        bigint      NOT NULL,
        output_tokens       bigint      NOT NULL,
        cached_input_tokens bigint      NOT NULL,
        cache_write_tokens  bigint      NOT NULL,
        reasoning_tokens    bigint      NOT NULL,
        total_tokens        bigint      NOT NULL,
        duration_ms_sum     bigint      NOT NULL,
        duration_count      bigint      NOT NULL,
        cost                numeric     NOT NULL,
        unpriced_requests   bigint      NOT NULL,
        last_occurred_at    timestamptz NOT NULL,
        PRIMARY KEY (workspace_id, bucket_start, user_id, provider, model)
      )`);
    await db.query(`CREATE INDEX usage_hourly_user ON usage_hourly (workspace_id, user_id, bucket_start)`);

    await db.query(`
      CREATE TABLE models (
        workspace_id text        NOT NULL,
        id           uuid        NOT NULL,
        provider     text        NOT NULL,
        model        text        NOT NULL,
        kind         text        NOT NULL CHECK (kind IN ('language', 'embedding')),
        source       text        NOT NULL,
        created_at   timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (workspace_id, id),
        UNIQUE (workspace_id, provider, model)
      )`);
    await db.query(`
      CREATE TABLE model_prices (
        workspace_id            text        NOT NULL,
        model_id                uuid        NOT NULL,
        effective_from          timestamptz NOT NULL,
        input_per_million       numeric     NOT NULL CHECK (input_per_million >= 0),
        output_per_million      numeric     NOT NULL CHECK (output_per_million >= 0),
        cached_input_per_million numeric    CHECK (cached_input_per_million >= 0),
        cache_write_per_million numeric     CHECK (cache_write_per_million >= 0),
        reasoning_per_million   numeric     CHECK (reasoning_per_million >= 0),
        PRIMARY KEY (workspace_id, model_id, effective_from),
        FOREIGN KEY (workspace_id, model_id) REFERENCES models (workspace_id, id) ON DELETE CASCADE
      )`);
    await db.query(`
      CREATE TABLE catalog_sources (
        workspace_id text        NOT NULL,
        name         text        NOT NULL,
        version      text        NOT NULL,
        loaded_at    timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (workspace_id, name)
      )`);

    await db.query(`
      CREATE TABLE api_keys (
        workspace_id text        NOT NULL,
        id           uuid        NOT NULL,
        name         text        NOT NULL,
        prefix       text        NOT NULL,
        secret_hash  bytea       NOT NULL,
        created_by   text        NOT NULL,
        created_at   timestamptz NOT NULL DEFAULT now(),
        last_used_at timestamptz,
        revoked_at   timestamptz,
        PRIMARY KEY (workspace_id, id),
        UNIQUE (workspace_id, secret_hash)
      )`);
  }

  async down(db: QueryRunner): Promise<void> {
    for (const table of [
      'api_keys',
      'catalog_sources',
      'model_prices',
      'models',
      'usage_hourly',
      'usage_request_ids',
      'usage_records',
    ]) {
      await db.query(`DROP TABLE IF EXISTS ${table}`);
    }
  }
}
