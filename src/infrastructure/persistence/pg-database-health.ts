import pg from 'pg';
import { inject, injectable } from 'tsyringe';
import { DataSource } from 'typeorm';
import type { DatabaseHealth, ReadinessProblem } from '../../application/ports/database-health.port';

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

/**
 * The driver's message names the server's address, the user or a socket path: it goes to the
 * log, the probe's answer says only 'database unreachable'.
 */
const unreachable = (detail: unknown): ReadinessProblem => ({
  reason: 'database unreachable',
  detail: detail instanceof Error ? detail.message : String(detail),
});
const MIGRATIONS_PENDING: ReadinessProblem = { reason: 'database migrations are pending' };

/** SQLSTATE of a connection refused at the role's or the server's connection limit. */
const TOO_MANY_CONNECTIONS = '53300';

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
  async problem(): Promise<ReadinessProblem | null> {
    const pooled = await within(POOL_WAIT_MS, this.throughPool());
    if (pooled !== LATE) return pooled;
    const direct = await within(READINESS_TIMEOUT_MS - POOL_WAIT_MS, this.onItsOwn());
    if (direct === LATE) return unreachable(`no answer within ${READINESS_TIMEOUT_MS} ms`);
    return direct ?? (this.migrationsPending ? MIGRATIONS_PENDING : null);
  }

  private async throughPool(): Promise<ReadinessProblem | null> {
    try {
      await this.db.query('SELECT 1');
      this.migrationsPending = await this.db.showMigrations();
      return this.migrationsPending ? MIGRATIONS_PENDING : null;
    } catch (error) {
      return unreachable(error);
    }
  }

  private async onItsOwn(): Promise<ReadinessProblem | null> {
    const { url } = this.db.options as { url?: string };
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: READINESS_TIMEOUT_MS });
    // a failure after the answer (the database going away) must not be an uncaught event
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.query('SELECT 1');
      return null;
    } catch (error) {
      // too_many_connections: the database answered, and the pool holds all it may open
      if ((error as { code?: unknown }).code === TOO_MANY_CONNECTIONS) return null;
      return unreachable(error);
    } finally {
      client.end().catch(() => undefined);
    }
  }
}
