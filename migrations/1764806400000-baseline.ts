import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The additive metric columns of the rollups and of usage_pending (kept here: a migration never changes with app code). */
const METRICS = [
  'requests',
  'errors',
  'input_tokens',
  'output_tokens',
  'cached_input_tokens',
  'cache_write_tokens',
  'reasoning_tokens',
  'total_tokens',
  'duration_ms_sum',
  'duration_count',
  'cost',
  'unpriced_requests',
];
const METRIC_COLUMNS = METRICS.map((c) => `${c} ${c === 'cost' ? 'numeric' : 'bigint'} NOT NULL`).join(',\n        ');

/** The migrations this baseline replaces; a database they built is brought to this schema. */
const SQUASHED = [
  'InitialSchema1700000000001',
  'CoarserRollups1700000000002',
  'UserHourlyIndex1700000000003',
  'DailyAndProviderRollups1700000000004',
  'MonthlyUserRollups1700000000005',
  'CoarseModelProviderRollups1700000000006',
  'PendingRollups1700000000007',
  'LeanerHourlyRollups1700000000008',
  'ProviderSlotRollup1700000000009',
];

/** A rollup table: workspace, key columns, the metrics; updated in place by the fold, so room is left on its pages. */
function rollup(table: string, keys: Array<[string, string]>, primaryKey: string[], lastOccurrence = false): string {
  return `
      CREATE TABLE ${table} (
        workspace_id text NOT NULL,
        ${keys.map(([column, type]) => `${column} ${type} NOT NULL`).join(',\n        ')},
        ${METRIC_COLUMNS},${lastOccurrence ? '\n        last_occurred_at timestamptz NOT NULL,' : ''}
        PRIMARY KEY (workspace_id, ${primaryKey.join(', ')})
      ) WITH (fillfactor = 70)`;
}

const HOUR: [string, string] = ['bucket_start', 'timestamptz'];
const DAY: [string, string] = ['day_start', 'timestamptz'];
const MONTH: [string, string] = ['month_start', 'timestamptz'];
const SLOT: [string, string] = ['slot_start', 'timestamptz'];
const USER: [string, string] = ['user_id', 'text'];
const PROVIDER: [string, string] = ['provider', 'text'];
const MODEL: [string, string] = ['model', 'text'];

/**
 * The schema as one migration. Every primary and unique key leads with workspace_id, so each
 * table can be distributed by workspace (Citus) unchanged. The built-in model catalog lives
 * under workspace ''.
 *
 * Raw records live in monthly range partitions of usage_records, created by the service;
 * the ledger usage_request_ids deduplicates across them and outlives them. Ingest queues
 * the sums of what it stored in usage_pending; the service folds them into the rollups
 * (src/infrastructure/persistence/rollup-registry.ts says which and why).
 */
export class Baseline1764806400000 implements MigrationInterface {
  name = 'Baseline1764806400000';

  async up(db: QueryRunner): Promise<void> {
    const squashed = (await db.query(`SELECT count(*)::int AS n FROM migrations WHERE name = ANY ($1)`, [
      SQUASHED,
    ])) as Array<{ n: number }>;
    if ((squashed[0]?.n ?? 0) > 0) {
      await this.fromSquashedChain(db);
      return;
    }

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

    // a unique key on the partitioned table would have to include occurred_at, and a re-sent
    // record may carry another occurredAt
    await db.query(`
      CREATE TABLE usage_request_ids (
        workspace_id text        NOT NULL,
        request_id   text        NOT NULL,
        occurred_at  timestamptz NOT NULL,
        PRIMARY KEY (workspace_id, request_id)
      )`);

    // rows live for moments: vacuumed often; no primary key (rows of one key from different
    // batches are simply summed), one index for the queries
    await db.query(`
      CREATE TABLE usage_pending (
        workspace_id     text        NOT NULL,
        bucket_start     timestamptz NOT NULL,
        slot_start       timestamptz NOT NULL,
        user_id          text        NOT NULL,
        provider         text        NOT NULL,
        model            text        NOT NULL,
        ${METRIC_COLUMNS},
        last_occurred_at timestamptz NOT NULL
      ) WITH (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 10000,
              autovacuum_vacuum_insert_scale_factor = 0, autovacuum_vacuum_insert_threshold = 10000)`);
    await db.query(`CREATE INDEX usage_pending_hour ON usage_pending (workspace_id, bucket_start)`);

    await db.query(
      rollup('usage_hourly', [HOUR, USER, PROVIDER, MODEL], ['bucket_start', 'user_id', 'provider', 'model']),
    );
    await db.query(`CREATE INDEX usage_hourly_user ON usage_hourly (workspace_id, user_id, bucket_start)`);
    await db.query(
      rollup('usage_daily_user_models', [USER, DAY, PROVIDER, MODEL], ['user_id', 'day_start', 'provider', 'model']),
    );
    await db.query(
      rollup(
        'usage_monthly_user_models',
        [USER, MONTH, PROVIDER, MODEL],
        ['user_id', 'month_start', 'provider', 'model'],
      ),
    );
    await db.query(rollup('usage_daily_users', [DAY, USER], ['day_start', 'user_id'], true));
    await db.query(`CREATE INDEX usage_daily_users_user ON usage_daily_users (workspace_id, user_id, day_start)`);
    await db.query(rollup('usage_monthly_users', [MONTH, USER], ['month_start', 'user_id']));
    await db.query(rollup('usage_hourly_models', [HOUR, PROVIDER, MODEL], ['bucket_start', 'provider', 'model']));
    await db.query(rollup('usage_daily_models', [DAY, PROVIDER, MODEL], ['day_start', 'provider', 'model']));
    await db.query(rollup('usage_monthly_models', [MONTH, PROVIDER, MODEL], ['month_start', 'provider', 'model']));
    await db.query(rollup('usage_hourly_providers', [HOUR, PROVIDER], ['bucket_start', 'provider']));
    await db.query(rollup('usage_daily_providers', [DAY, PROVIDER], ['day_start', 'provider']));
    await db.query(rollup('usage_slot_providers', [SLOT, PROVIDER], ['slot_start', 'provider']));

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
        workspace_id             text        NOT NULL,
        model_id                 uuid        NOT NULL,
        effective_from           timestamptz NOT NULL,
        input_per_million        numeric     NOT NULL CHECK (input_per_million >= 0),
        output_per_million       numeric     NOT NULL CHECK (output_per_million >= 0),
        cached_input_per_million numeric     CHECK (cached_input_per_million >= 0),
        cache_write_per_million  numeric     CHECK (cache_write_per_million >= 0),
        reasoning_per_million    numeric     CHECK (reasoning_per_million >= 0),
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

  /**
   * A database built by the migrations this one replaces holds this schema but for two
   * things: a monthly rollup by provider alone, which the queries now answer from the
   * rollup by provider and model, and pending rows queued before the 15-minute slots existed, with
   * no slot. Those rows' records are in the slots already (built from the raw records), so
   * the slots give them back at their hour's first slot, where the fold adds them again:
   * every slot ends up exact.
   */
  private async fromSquashedChain(db: QueryRunner): Promise<void> {
    await db.query(`DROP TABLE usage_monthly_providers`);
    await db.query(`LOCK TABLE usage_pending IN EXCLUSIVE MODE`);
    await db.query(`
      INSERT INTO usage_slot_providers AS s (workspace_id, slot_start, provider, ${METRICS.join(', ')})
      SELECT workspace_id, bucket_start, provider, ${METRICS.map((c) => `-sum(${c})`).join(', ')}
      FROM usage_pending WHERE slot_start IS NULL GROUP BY 1, 2, 3
      ON CONFLICT (workspace_id, slot_start, provider) DO UPDATE SET
        ${METRICS.map((c) => `${c} = s.${c} + EXCLUDED.${c}`).join(', ')}`);
    await db.query(`UPDATE usage_pending SET slot_start = bucket_start WHERE slot_start IS NULL`);
    await db.query(`ALTER TABLE usage_pending ALTER COLUMN slot_start SET NOT NULL`);
    await db.query(`DELETE FROM migrations WHERE name = ANY ($1)`, [SQUASHED]);
  }

  async down(db: QueryRunner): Promise<void> {
    for (const table of [
      'api_keys',
      'catalog_sources',
      'model_prices',
      'models',
      'usage_slot_providers',
      'usage_daily_providers',
      'usage_hourly_providers',
      'usage_monthly_models',
      'usage_daily_models',
      'usage_hourly_models',
      'usage_monthly_users',
      'usage_daily_users',
      'usage_monthly_user_models',
      'usage_daily_user_models',
      'usage_hourly',
      'usage_pending',
      'usage_request_ids',
      'usage_records',
    ]) {
      await db.query(`DROP TABLE IF EXISTS ${table}`);
    }
  }
}
