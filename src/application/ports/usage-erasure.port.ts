/** What one user's erasure removed. */
export interface ErasedUsage {
  /** raw usage records, from every partition still kept */
  deletedRecords: number;
  /** rows of the hourly rollup that held the user's sums */
  deletedRollupRows: number;
  /** request ids released from the dedup ledger (one per deleted record) */
  deletedRequestIds: number;
}

/** Removes a user's usage from storage (right to erasure). */
export interface UsageErasure {
  /**
   * Deletes every raw record of the user in the workspace, the user's rollup rows and the
   * ledger entries of those records' request ids, in one transaction: afterwards every
   * total reads as if the user had never sent anything. Other workspaces are untouched.
   */
  eraseUser(workspaceId: string, userId: string): Promise<ErasedUsage>;
}
