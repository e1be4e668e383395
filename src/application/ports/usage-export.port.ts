import type { ExportColumn, ExportLevel, ExportValue } from '../../domain/usage-export';
import type { UsageScope } from './usage-queries.port';

export interface ExportQuery {
  scope: UsageScope;
  level: ExportLevel;
  /** the columns to read, in this order; each row holds their values in it */
  columns: readonly ExportColumn[];
}

/**
 * Streams the rows of an export from the database in batches, as they are read: nothing
 * holds the whole result. Stopping the iteration, or aborting `signal`, ends the query.
 */
export interface UsageExport {
  batches(query: ExportQuery, signal: AbortSignal): AsyncIterable<ReadonlyArray<readonly ExportValue[]>>;
}
