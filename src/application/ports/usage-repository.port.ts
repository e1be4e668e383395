import type { UsageRecord } from '../../domain/usage-record';

/** Write side of usage storage. */
export interface UsageRepository {
  /**
   * Stores the records whose (workspace, requestId) was never stored before, together with
   * their rollup contributions, in one transaction — except records whose id a concurrent
   * call is storing, which wait for that call and are stored in a second transaction only if
   * it failed. Returns how many were new.
   * Request ids must be unique within the call.
   */
  insertNew(workspaceId: string, records: ReadonlyArray<UsageRecord>): Promise<number>;
}
