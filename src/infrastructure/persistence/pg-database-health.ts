import pg from 'pg';
import { inject, injectable } from 'tsyringe';
import { DataSource } from 'typeorm';
import type { DatabaseHealth } from '../../application/ports/database-health.port';

/** A readiness probe is answered within this long, however the database behaves. */
export const READINESS_TIMEOUT_MS = 3_000;
/** How long the probe waits on the request pool before asking on a connection of its own. */
const POOL_WAIT_MS = 1_000;

const LATE = Symbol('late');

/** `work`'s answer, or LATE once `ms` have passed. */
async function within<T>(ms: number, work: Promise<T>): Promise<T | typeof LATE> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<typeof LATE>((resolve) => {
    timer = setTimeout(() => resolve(LATE), ms);
  });
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}

const unreachable = (error: unknown): string =>
  `database unreachable: ${error instanceof Error ? error.message : String(error)}`;

@injectable()
export class PgDatabaseHealth implements DatabaseHealth {
  /** Whether migrations were pending when last seen through the pool. */
  private migrationsPending = false;

  constructor(@inject(DataSource) private readonly db: DataSource) {}

  /**
   * Through the request pool first. When every pooled connection is busy (slow requests, not a
   * database that is away), waiting longer for one would report a healthy database as
   * unreachable and take a busy instance out of rotation: a connection of its own says
   * whether the database answers.
   */
  async problem(): Promise<string | null> {
    const pooled = await within(POOL_WAIT_MS, this.throughPool());
    if (pooled !== LATE) return pooled;
    const direct = await within(READINESS_TIMEOUT_MS - POOL_WAIT_MS, this.onItsOwn());
    if (direct === LATE) return `database unreachable: no answer within ${READINESS_TIMEOUT_MS} ms`;
    return direct ?? (this.migrationsPending ? 'database migrations are pending' : null);
  }

  private async throughPool(): Promise<string | null> {
    try {
      await this.db.query('SELECT 1');
      this.migrationsPending = await this.db.showMigrations();
      return this.migrationsPending ? 'database migrations are pending' : null;
    } catch (error) {
      return unreachable(error);
    }
  }

  private async onItsOwn(): Promise<string | null> {
    const { url } = this.db.options as { url?: string };
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: READINESS_TIMEOUT_MS });
    // a failure after the answer (the database going away) must not be an uncaught event
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.query('SELECT 1');
      return null;
    } catch (error) {
      return unreachable(error);
    } finally {
      client.end().catch(() => undefined);
    }
  }
}
