import type { UsageRecord } from '../../domain/usage-record';

/** Write side of usage storage. */
export interface UsageRepository {
  /**
   * Stores the records whose (workspace, requestId) was never stored before, together with
   * their rollup contributions, in one transaction. Returns how many were new.
   * Request ids must be unique within the call.
   */
  insertNew(workspaceId: string, records: ReadonlyArray<UsageRecord>): Promise<number>;
}
