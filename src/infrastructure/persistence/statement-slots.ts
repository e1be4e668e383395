import { DatabaseUnavailableError } from '../../domain/errors';

/**
 * At most `limit` statements of one kind running at once on this instance; the rest wait here,
 * first come first served. Ingest statements go through one: sent all at once, concurrent
 * batches queue behind each other's locks inside PostgreSQL (the busiest users' quota rows),
 * where they hold connections and CPU the fold then lacks, and the fold fell 4–23 s behind
 * the last acknowledged record of a backfill; one at a time on two cores it stayed within
 * 0.7–3.7 s at the same ingest rate (npm run bench, the ingest part).
 *
 * A caller that waits longer than `maxWaitMs` (0: no limit) gets a DatabaseUnavailableError
 * (503 with Retry-After), like one that waits that long for a pool connection: the service
 * sheds load instead of queueing without end, and nothing of its request was written.
 */
export class StatementSlots {
  private running = 0;
  private readonly waiting: Array<{ start: () => void }> = [];

  constructor(
    readonly limit: number,
    private readonly maxWaitMs: number,
  ) {
    if (!Number.isSafeInteger(limit) || limit < 1)
      throw new RangeError(`limit must be a positive integer, got ${limit}`);
  }

  async run<T>(statement: () => Promise<T>): Promise<T> {
    if (this.running >= this.limit) await this.turn();
    else this.running += 1;
    try {
      return await statement();
    } finally {
      this.release();
    }
  }

  /** Statements waiting for a slot (for tests and diagnostics). */
  get queued(): number {
    return this.waiting.length;
  }

  /** Resolves once a finishing statement has handed this caller its slot. */
  private turn(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const entry = {
        start: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      if (this.maxWaitMs > 0) {
        timer = setTimeout(() => {
          const at = this.waiting.indexOf(entry);
          if (at >= 0) this.waiting.splice(at, 1);
          reject(new DatabaseUnavailableError('the service is busy storing other batches; retry later'));
        }, this.maxWaitMs);
      }
      this.waiting.push(entry);
    });
  }

  /** Hands the slot straight to the next waiter, so a newcomer cannot take it first. */
  private release(): void {
    const next = this.waiting.shift();
    if (next) next.start();
    else this.running -= 1;
  }
}

/** The slots of the ingest statement (pg-usage-repository.ts); one set per app. */
export class IngestStatementSlots extends StatementSlots {}
