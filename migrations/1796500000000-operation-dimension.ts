import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The rollups that gain the operation, as they stand at this migration: table, time column, its expression over an hour, other dimensions. */
const WITH_OPERATION: Array<[table: string, time: string, ofHour: string, dimensions: string[]]> = [
  ['usage_hourly', 'bucket_start', 'bucket_start', ['user_id', 'provider', 'model']],
  ['usage_daily_user_models', 'day_start', "date_trunc('day', bucket_start, 'UTC')", ['user_id', 'provider', 'model']],
  [
    'usage_monthly_user_models',
    'month_start',
    "date_trunc('month', bucket_start, 'UTC')",
    ['user_id', 'provider', 'model'],
  ],
  ['usage_hourly_models', 'bucket_start', 'bucket_start', ['provider', 'model']],
  ['usage_daily_models', 'day_start', "date_trunc('day', bucket_start, 'UTC')", ['provider', 'model']],
  ['usage_monthly_models', 'month_start', "date_trunc('month', bucket_start, 'UTC')", ['provider', 'model']],
];

/** The metrics at this migration, each over one raw record. */
const METRICS: Array<[name: string, ofRecord: string]> = [
  ['requests', '1'],
  ['errors', 'CASE WHEN success THEN 0 ELSE 1 END'],
  ['input_tokens', 'input_tokens'],
  ['output_tokens', 'output_tokens'],
  ['cached_input_tokens', 'cached_input_tokens'],
  ['cache_write_tokens', 'cache_write_tokens'],
  ['reasoning_tokens', 'reasoning_tokens'],
  ['total_tokens', 'total_tokens'],
  ['duration_ms_sum', 'coalesce(duration_ms, 0)'],
  ['duration_count', 'CASE WHEN duration_ms IS NULL THEN 0 ELSE 1 END'],
  ['cost', 'coalesce(cost, 0)'],
  ['unpriced_requests', 'CASE WHEN cost IS NULL THEN 1 ELSE 0 END'],
  ['unpriced_tokens', 'CASE WHEN cost IS NULL THEN total_tokens ELSE 0 END'],
];

/**
 * The operation (`chat`, `embeddings`, …) becomes a dimension of the user × model and model
 * rollups and of usage_pending, so the Usage tab's breakdown by operation is read from the
 * rollups for any range, like everything else. A record without an operation is kept as ''.
 *
 * Rows written before hold every operation under ''. Where the raw records are kept they
 * are split by operation exactly: each such row becomes its raw records' sums by operation
 * less what is still pending (pending rows carry '' and are folded into '' afterwards, so
 * every sum stays what it was, and each operation's is exact once they are). Past raw
 * retention the rows stay under '': what operation they had is nowhere kept.
 */
export class OperationDimension1796500000000 implements MigrationInterface {
  name = 'OperationDimension1796500000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE usage_pending ADD COLUMN operation text NOT NULL DEFAULT ''`);
    for (const [table, time, , dimensions] of WITH_OPERATION) {
      await db.query(`ALTER TABLE ${table} ADD COLUMN operation text NOT NULL DEFAULT ''`);
      await db.query(`ALTER TABLE ${table} DROP CONSTRAINT ${table}_pkey`);
      await db.query(
        `ALTER TABLE ${table} ADD PRIMARY KEY (workspace_id, ${keyOrder(table, time, dimensions).join(', ')})`,
      );
    }

    const names = METRICS.map(([name]) => name);
    // the kept records by hour and every dimension, less what is still pending
    await db.query(`
      CREATE TEMPORARY TABLE operation_split ON COMMIT DROP AS
      SELECT workspace_id, bucket_start, user_id, provider, model, operation,
        ${names.map((n) => `sum(${n}) AS ${n}`).join(', ')}
      FROM (
        SELECT workspace_id, date_trunc('hour', occurred_at, 'UTC') AS bucket_start, user_id, provider, model,
          coalesce(operation, '') AS operation, ${METRICS.map(([name, of]) => `${of} AS ${name}`).join(', ')}
        FROM usage_records
        UNION ALL
        SELECT workspace_id, bucket_start, user_id, provider, model, operation, ${names.map((n) => `-${n}`).join(', ')}
        FROM usage_pending) s
      GROUP BY 1, 2, 3, 4, 5, 6`);
    for (const [table, time, ofHour, dimensions] of WITH_OPERATION) {
      const keys = ['workspace_id', time, ...dimensions];
      await db.query(`
        CREATE TEMPORARY TABLE split_rows ON COMMIT DROP AS
        SELECT workspace_id, ${ofHour} AS ${time}, ${dimensions.join(', ')}, operation,
          ${names.map((n) => `sum(${n}) AS ${n}`).join(', ')}
        FROM operation_split GROUP BY ${keys.map((_, i) => i + 1).join(', ')}, ${keys.length + 1}`);
      // the rows whose records are kept are replaced by their split
      await db.query(`
        DELETE FROM ${table} t USING (SELECT DISTINCT ${keys.join(', ')} FROM split_rows) k
        WHERE ${keys.map((k) => `t.${k} = k.${k}`).join(' AND ')}`);
      await db.query(`
        INSERT INTO ${table} (${[...keys, 'operation', ...names].join(', ')})
        SELECT ${[...keys, 'operation', ...names].join(', ')} FROM split_rows
        WHERE ${names.map((n) => `${n} <> 0`).join(' OR ')}`);
      await db.query(`DROP TABLE split_rows`);
    }
  }

  async down(db: QueryRunner): Promise<void> {
    for (const [table, time, , dimensions] of WITH_OPERATION) {
      const keys = ['workspace_id', ...keyOrder(table, time, dimensions).filter((k) => k !== 'operation')];
      const names = METRICS.map(([name]) => name);
      await db.query(`
        CREATE TEMPORARY TABLE merged ON COMMIT DROP AS
        SELECT ${keys.join(', ')}, ${names.map((n) => `sum(${n}) AS ${n}`).join(', ')} FROM ${table} GROUP BY ${keys.join(', ')}`);
      await db.query(`DELETE FROM ${table}`);
      await db.query(`ALTER TABLE ${table} DROP CONSTRAINT ${table}_pkey`);
      await db.query(`ALTER TABLE ${table} DROP COLUMN operation`);
      await db.query(`INSERT INTO ${table} (${[...keys, ...names].join(', ')}) SELECT * FROM merged`);
      await db.query(`ALTER TABLE ${table} ADD PRIMARY KEY (${keys.join(', ')})`);
      await db.query(`DROP TABLE merged`);
    }
    await db.query(`ALTER TABLE usage_pending DROP COLUMN operation`);
  }
}

/** The primary key after workspace_id: the user × model rollups lead with the user. */
function keyOrder(table: string, time: string, dimensions: string[]): string[] {
  const leadsWithUser = table.endsWith('_user_models');
  return leadsWithUser
    ? ['user_id', time, ...dimensions.filter((d) => d !== 'user_id'), 'operation']
    : [time, ...dimensions, 'operation'];
}
