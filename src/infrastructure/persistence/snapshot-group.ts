import type pg from 'pg';

/** How a statement runs on a connection of the group (the caller's choice: named, kept plan, …). */
export type StatementRunner = (client: pg.PoolClient, text: string, values: unknown[]) => Promise<unknown[]>;

/** Connections a group may use besides the first: one answer's statements, not the pool's share of others'. */
const MAX_HELPERS = 3;

/** What `pg_export_snapshot()` returns: hex words and dashes, safe to write into a statement. */
const SNAPSHOT_ID = /^[0-9A-F]+(-[0-9A-F]+)+$/i;

interface Task {
  text: string;
  values: unknown[];
  resolve: (rows: unknown[]) => void;
  reject: (error: unknown) => void;
}

/**
 * The statements of one answer, all reading the database as of one moment, still in parallel.
 * The first connection opens a read-only REPEATABLE READ transaction and exports its snapshot
 * (`pg_export_snapshot`); statements that arrive while it is busy are taken by helper
 * connections that import the snapshot (`SET TRANSACTION SNAPSHOT`), or by the first one once
 * it is free. The exporting transaction stays open until every statement taken has ended,
 * which an import needs.
 *
 * It never waits for a connection while holding one for a statement still to come: a helper
 * takes a statement only once it has its connection, and the first connection runs whatever
 * is left. So answers in flight cannot take the whole pool and wait for each other.
 */
export class SnapshotGroup {
  private readonly queue: Task[] = [];
  private inFlight = 0;
  private helpers = 0;
  private closed = false;
  private exporter: pg.PoolClient | undefined;
  private snapshot: string | undefined;
  private starting: Promise<void> | undefined;
  private exporterBusy = false;
  private failure: unknown;
  private finished: (() => void) | undefined;

  constructor(
    private readonly pool: pg.Pool,
    /** the transaction's settings, `SET LOCAL …` statements joined by `; ` (or empty) */
    private readonly settings: string,
    private readonly runStatement: StatementRunner,
  ) {}

  /**
   * Begins the shared transaction now, not at the first statement: its round trip then
   * overlaps the writing of the statements.
   */
  open(): void {
    if (this.starting) return;
    this.exporterBusy = true;
    this.starting = this.start();
  }

  /** Runs `text` in the group's snapshot. */
  run(text: string, values: unknown[]): Promise<unknown[]> {
    if (this.closed) return Promise.reject(new Error('a statement sent after its snapshot group ended'));
    return new Promise((resolve, reject) => {
      this.queue.push({ text, values, resolve, reject });
      this.pump();
    });
  }

  /** Waits for every statement taken, then ends the transactions and gives the connections back. */
  async close(): Promise<void> {
    this.closed = true;
    if (!this.idle()) await new Promise<void>((done) => (this.finished = done));
    await this.starting?.catch(() => undefined);
    const client = this.exporter;
    this.exporter = undefined;
    if (client) await endTransaction(client);
  }

  private idle(): boolean {
    return this.queue.length === 0 && this.inFlight === 0 && !this.exporterBusy;
  }

  private settle(): void {
    if (this.closed && this.idle()) this.finished?.();
  }

  private pump(): void {
    if (this.failure !== undefined) {
      for (const task of this.queue.splice(0)) task.reject(this.failure);
      return;
    }
    if (!this.starting) return this.open();
    if (!this.snapshot) return; // the first connection takes the queue once it has begun
    if (!this.exporterBusy) void this.drain(this.exporter!).then(() => this.exporterDone());
    else if (this.queue.length > 0 && this.helpers < MAX_HELPERS) void this.help();
  }

  private async start(): Promise<void> {
    try {
      const client = await checkOut(this.pool);
      this.exporter = client;
      const results = (await client.query(
        `BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;${this.settings ? ` ${this.settings};` : ''} SELECT pg_export_snapshot() AS id`,
      )) as unknown as pg.QueryResult[];
      const id = (results.at(-1)!.rows[0] as { id: string }).id;
      if (!SNAPSHOT_ID.test(id)) throw new Error(`unexpected snapshot id ${JSON.stringify(id)}`);
      this.snapshot = id;
    } catch (error) {
      this.failure = error;
      this.exporterBusy = false;
      this.pump();
      this.settle();
      return;
    }
    // more statements than one already waiting: helpers take them beside the first connection
    for (let i = 1; i < this.queue.length && this.helpers < MAX_HELPERS; i++) void this.help();
    await this.drain(this.exporter);
    this.exporterDone();
  }

  private exporterDone(): void {
    this.exporterBusy = false;
    if (this.queue.length > 0) this.pump();
    this.settle();
  }

  /** Runs queued statements on `client` until none is left. */
  private async drain(client: pg.PoolClient): Promise<void> {
    if (client === this.exporter) this.exporterBusy = true;
    for (let task = this.queue.shift(); task; task = this.queue.shift()) await this.runTask(client, task);
  }

  private async runTask(client: pg.PoolClient, task: Task): Promise<void> {
    this.inFlight += 1;
    try {
      task.resolve(await this.runStatement(client, task.text, task.values));
    } catch (error) {
      task.reject(error);
    } finally {
      this.inFlight -= 1;
    }
  }

  /** A connection of its own that imports the snapshot, for statements the first one has no time for. */
  private async help(): Promise<void> {
    this.helpers += 1;
    try {
      let client: pg.PoolClient;
      try {
        client = await checkOut(this.pool);
      } catch {
        return; // no connection now: the first one runs what is left
      }
      const task = this.queue.shift();
      if (!task) {
        checkIn(client); // the first connection took them meanwhile
        return;
      }
      // counted while the snapshot is imported: the first connection's transaction stays open
      this.inFlight += 1;
      let began = false;
      try {
        await client.query(
          `BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET TRANSACTION SNAPSHOT '${this.snapshot!}';${this.settings ? ` ${this.settings};` : ''}`,
        );
        began = true;
      } catch (error) {
        // the snapshot is gone only where the first connection's transaction failed
        task.reject(error);
      } finally {
        this.inFlight -= 1;
      }
      if (!began) {
        await endTransaction(client, 'ROLLBACK');
        return;
      }
      await this.runTask(client, task);
      await this.drain(client);
      await endTransaction(client);
    } finally {
      this.helpers -= 1;
      this.settle();
    }
  }
}

// a failure of a connection in use reaches the statement it breaks; no uncaught 'error' event
const ignore = (): void => undefined;

async function checkOut(pool: pg.Pool): Promise<pg.PoolClient> {
  const client = await pool.connect();
  client.on('error', ignore);
  return client;
}

function checkIn(client: pg.PoolClient, failure?: Error): void {
  client.removeListener('error', ignore);
  client.release(failure);
}

/** Ends the read-only transaction and returns the connection; one that cannot is closed, not pooled. */
async function endTransaction(client: pg.PoolClient, end: 'COMMIT' | 'ROLLBACK' = 'COMMIT'): Promise<void> {
  let usable = true;
  await client.query(end).catch(() => (usable = false));
  checkIn(client, usable ? undefined : new Error('the transaction left its connection unusable'));
}
