import type { DataSource } from 'typeorm';
import { RepriceUsage } from '../src/application/use-cases/reprice-usage';
import { systemClock } from '../src/composition-root';
import { Decimal } from '../src/domain/decimal';
import { createDataSource } from '../src/infrastructure/persistence/data-source';
import { PgPriceCatalog } from '../src/infrastructure/persistence/pg-price-catalog';
import { COST_OF_RECORD, PgRepricing } from '../src/infrastructure/persistence/pg-repricing';
import { expectExactRollups } from './checks';
import { connect } from './database';
import { WORKSPACE } from './dataset';
import { note } from './progress';
import type { QueryDataset } from './query-dataset';
import { round } from './stats';

export interface RepricingResult {
  records: number;
  models: number;
  dryRunSeconds: number;
  applySeconds: number;
  repriced: number;
  /** the same rows' cost set to the same prices by one plain UPDATE (rolled back) */
  plainUpdateSeconds: number;
  /** an identical second run: changes nothing */
  secondApplySeconds: number;
  secondRepriced: number;
}

/** The price every model of the dataset gets, from before its first record: every record changes. */
const INPUT = '1.25';
const OUTPUT = '5';

async function seconds<T>(run: () => Promise<T>): Promise<[T, number]> {
  const started = performance.now();
  const value = await run();
  return [value, round((performance.now() - started) / 1000, 2)];
}

/**
 * Re-pricing every record of a loaded dataset after each model got a new price in force from
 * before the first record (a dry run, then applied, then again), beside a plain UPDATE of the
 * same rows' cost at the same prices, in the same run. Rollups checked exact afterwards.
 */
export async function runRepricing(url: string, dataset: QueryDataset): Promise<RepricingResult> {
  const db: DataSource = createDataSource(url, 4);
  await db.initialize();
  const client = await connect(url);
  try {
    const catalog = new PgPriceCatalog(db);
    const repricing = new RepriceUsage(new PgRepricing(db), catalog, systemClock, {
      deploymentMode: 'self-hosted',
      maxBatchRecords: 1000,
      rawRetentionDays: 3650,
    });
    const models = (await db.query(`SELECT DISTINCT provider, model FROM usage_hourly_models WHERE workspace_id = $1`, [
      WORKSPACE,
    ])) as Array<{ provider: string; model: string }>;
    const price = {
      effectiveFrom: new Date('2000-01-01T00:00:00Z'),
      inputPerMillion: Decimal.parse(INPUT),
      outputPerMillion: Decimal.parse(OUTPUT),
      cachedInputPerMillion: null,
      cacheWritePerMillion: null,
      cacheWrite1hPerMillion: null,
      reasoningPerMillion: null,
      longContext: null,
      timeOfDay: [],
    };
    for (const m of models) await catalog.create(WORKSPACE, { ...m, kind: 'language', price });
    const request = { from: '2000-01-01T00:00:00Z', to: new Date(Date.now() + 86_400_000).toISOString() };

    note(`repricing: dry run over ${dataset.rows} records of ${models.length} models`);
    const [, dryRunSeconds] = await seconds(() => repricing.execute(WORKSPACE, 'bench', { ...request, dryRun: true }));
    note('repricing: applying');
    const [applied, applySeconds] = await seconds(() =>
      repricing.execute(WORKSPACE, 'bench', { ...request, dryRun: false }),
    );
    await expectExactRollups(client, WORKSPACE);
    note('repricing: a plain UPDATE of the same rows at the same prices (rolled back)');
    const [, plainUpdateSeconds] = await seconds(async () => {
      await client.query('BEGIN');
      try {
        await client.query(
          `UPDATE usage_records r SET cost = ${COST_OF_RECORD}
           FROM (SELECT ${INPUT}::numeric AS input, ${INPUT}::numeric AS cached_input, ${INPUT}::numeric AS cache_write,
                        ${INPUT}::numeric AS cache_write_1h,
                        ${OUTPUT}::numeric AS output, ${OUTPUT}::numeric AS reasoning) s
           WHERE r.workspace_id = $1 AND r.cost_status <> 'provided'`,
          [WORKSPACE],
        );
      } finally {
        await client.query('ROLLBACK');
      }
    });
    note('repricing: the same again (changes nothing)');
    const [again, secondApplySeconds] = await seconds(() =>
      repricing.execute(WORKSPACE, 'bench', { ...request, dryRun: false }),
    );
    return {
      records: applied.totals.records,
      models: models.length,
      dryRunSeconds,
      applySeconds,
      repriced: applied.totals.repriced,
      plainUpdateSeconds,
      secondApplySeconds,
      secondRepriced: again.totals.repriced,
    };
  } finally {
    await client.end();
    await db.destroy();
  }
}
