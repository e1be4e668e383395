import { inject, injectable } from 'tsyringe';
import { exportColumns, type ExportColumn, type ExportLevel, type ExportValue } from '../../domain/usage-export';
import type { Clock } from '../ports/clock.port';
import { TOKENS } from '../ports/tokens';
import type { UsageExport } from '../ports/usage-export.port';
import type { UsageScope } from '../ports/usage-queries.port';
import { UsageScopes, type UsageRequest } from './usage-scope';

export interface UsageExportRequest extends Omit<UsageRequest, 'granularity'> {
  level?: ExportLevel;
}

export interface PreparedExport {
  scope: UsageScope;
  level: ExportLevel;
  columns: readonly ExportColumn[];
  /** the rows, read from the database only while they are consumed */
  batches(signal: AbortSignal): AsyncIterable<ReadonlyArray<readonly ExportValue[]>>;
}

/**
 * An admin's export of the workspace's usage: every record of a range, or the sums per local
 * day, user, provider and model, which the rollups keep after retention dropped the records.
 * Validation happens here, before anything is sent; the rows follow as the caller reads them.
 */
@injectable()
export class ExportUsage {
  constructor(
    @inject(TOKENS.UsageExport) private readonly usageExport: UsageExport,
    @inject(TOKENS.Clock) private readonly clock: Clock,
    @inject(UsageScopes) private readonly scopes: UsageScopes,
  ) {}

  async prepare(workspaceId: string, request: UsageExportRequest, showCost: boolean): Promise<PreparedExport> {
    const { level = 'record', ...rest } = request;
    // days are the export's buckets; a record export ignores them
    const scope = await this.scopes.of(workspaceId, { ...rest, granularity: 'day' }, this.clock.now());
    const columns = exportColumns(level, showCost);
    return {
      scope,
      level,
      columns,
      batches: (signal) => this.usageExport.batches({ scope, level, columns }, signal),
    };
  }
}
