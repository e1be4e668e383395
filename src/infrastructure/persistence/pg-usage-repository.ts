import { inject, injectable } from 'tsyringe';
import { DataSource } from 'typeorm';
import type { Settings } from '../../application/ports/settings.port';
import { TOKENS } from '../../application/ports/tokens';
import type { UsageRepository } from '../../application/ports/usage-repository.port';
import { showsCost } from '../../domain/deployment-mode';
import type { UsageRecord } from '../../domain/usage-record';
import { PENDING, PENDING_COLUMNS, pendingFromRecords } from './rollup-registry';
import { sayingUnavailable } from './database-unavailable';
import { poolOf, prepared, runPlannedEachTimeIn } from './prepared-statements';
import { InFlightRequestIds } from './in-flight-request-ids';
import { quotaCountingCtes } from './quota-counting';
import { IngestStatementSlots } from './statement-slots';
import { BATCH_COLUMN_NAMES, batchRowsSql, encodeBatch } from './usage-batch-text';

/** The ingest statement's first line: what tells it apart in pg_stat_activity, whose text is cut at 1 KB. */
export const INGEST_STATEMENT_MARK = '/* ingest: usage records */';

/**
 * One statement per batch: claim request ids in the dedup ledger, store the records whose
 * id was new, and queue exactly those for the rollups (usage_pending, which the service
 * folds into every rollup in the background; queries read it too), and count them in their
 * users' quotas (quota-counting.ts). All of it commits or none does, so a failed write
 * followed by a retry still counts once.
 */
const INSERT_NEW = `${INGEST_STATEMENT_MARK}
WITH input AS (
  ${batchRowsSql('$2')}
),
claimed AS (
  INSERT INTO usage_request_ids (workspace_id, request_id, occurred_at)
  SELECT $1, request_id, occurred_at FROM input
  -- claim in one global order: overlapping batches sent concurrently in different orders
  -- would otherwise wait on each other's ids and deadlock
  ORDER BY request_id
  ON CONFLICT DO NOTHING
  RETURNING request_id
),
stored AS (
  INSERT INTO usage_records (workspace_id, ${BATCH_COLUMN_NAMES.join(', ')})
  SELECT $1, ${BATCH_COLUMN_NAMES.map((name) => `i.${name}`).join(', ')}
  FROM input i JOIN claimed c USING (request_id)
  RETURNING request_id, occurred_at, user_id, provider, model, operation, success, input_tokens, output_tokens, cached_input_tokens,
    cache_write_tokens, cache_write_1h_tokens, reasoning_tokens, total_tokens, duration_ms, cost, cost_status
),
pending AS (
  INSERT INTO ${PENDING.table} (${PENDING_COLUMNS.join(', ')})
  ${pendingFromRecords('stored', '$1')}
),
${quotaCountingCtes('stored', '$1', '$3::boolean')}
SELECT count(*)::int AS inserted FROM stored`;

/** Parsed once per connection, planned for every batch (prepared-statements.ts). */
export const INGEST_STATEMENT = prepared('ingest', INSERT_NEW);

@injectable()
export class PgUsageRepository implements UsageRepository {
  private readonly showsCost: boolean;
  private readonly inFlight = new InFlightRequestIds();

  constructor(
    @inject(DataSource) private readonly db: DataSource,
    @inject(TOKENS.Settings) settings: Settings,
    @inject(IngestStatementSlots) private readonly slots: IngestStatementSlots,
  ) {
    this.showsCost = showsCost(settings.deploymentMode);
  }

  insertNew(workspaceId: string, records: ReadonlyArray<UsageRecord>): Promise<number> {
    return this.inFlight.store(workspaceId, records, (own) => this.insert(workspaceId, own));
  }

  private async insert(workspaceId: string, records: ReadonlyArray<UsageRecord>): Promise<number> {
    // one text parameter (usage-batch-text.ts): the driver passes it as it is
    const batch = encodeBatch(records);
    // per statement, not per call: a retry waiting in InFlightRequestIds holds no slot
    const rows = await sayingUnavailable(() =>
      this.slots.run(() =>
        runPlannedEachTimeIn<{ inserted: number }>(poolOf(this.db), INGEST_STATEMENT, [
          workspaceId,
          batch,
          this.showsCost,
        ]),
      ),
    );
    return rows[0]?.inserted ?? 0;
  }
}
