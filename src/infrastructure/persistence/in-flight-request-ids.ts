/**
 * The request ids this instance is storing right now, each with the outcome of the call that
 * stores it. A record whose id another call is storing (a client's retry that arrives while
 * the first attempt is still in flight) does not go to PostgreSQL with the rest of its batch:
 * there it would wait on the other transaction's claim of that id while holding the claims of
 * its own batch, and every batch claiming one of those would queue behind it. It waits here
 * instead, for that call alone: once the other call has stored its batch the id is known, and
 * the record is a duplicate; if the other call failed, the record is stored after all.
 * Instances do not see each other's calls; between them PostgreSQL's claim still decides.
 */
export class InFlightRequestIds {
  private readonly owners = new Map<string, Promise<boolean>>();

  /**
   * Stores `records` through `insert` (which returns how many were new) and returns how many
   * were new, counting a record stored by a concurrent call as a duplicate.
   */
  async store<R extends { requestId: string }>(
    workspaceId: string,
    records: ReadonlyArray<R>,
    insert: (records: R[]) => Promise<number>,
  ): Promise<number> {
    let settle!: (stored: boolean) => void;
    const outcome = new Promise<boolean>((resolve) => (settle = resolve));
    const own: R[] = [];
    const owned: string[] = [];
    const elsewhere: Array<{ record: R; stored: Promise<boolean> }> = [];
    for (const record of records) {
      const key = `${workspaceId}\u0000${record.requestId}`;
      const other = this.owners.get(key);
      if (other) {
        elsewhere.push({ record, stored: other });
      } else {
        this.owners.set(key, outcome);
        owned.push(key);
        own.push(record);
      }
    }

    let inserted: number;
    try {
      inserted = own.length > 0 ? await insert(own) : 0;
      settle(true);
    } catch (error) {
      settle(false);
      throw error;
    } finally {
      for (const key of owned) if (this.owners.get(key) === outcome) this.owners.delete(key);
    }

    if (elsewhere.length === 0) return inserted;
    const stored = await Promise.all(elsewhere.map((e) => e.stored));
    const notStored = elsewhere.filter((_, i) => !stored[i]).map((e) => e.record);
    return notStored.length > 0 ? inserted + (await insert(notStored)) : inserted;
  }

  /** How many ids are in flight (for tests). */
  get size(): number {
    return this.owners.size;
  }
}
