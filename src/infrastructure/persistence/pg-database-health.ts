import { inject, injectable } from 'tsyringe';
import { DataSource } from 'typeorm';
import type { DatabaseHealth } from '../../application/ports/database-health.port';

/** A readiness probe is answered within this long, however the database behaves. */
export const READINESS_TIMEOUT_MS = 3_000;

@injectable()
export class PgDatabaseHealth implements DatabaseHealth {
  constructor(@inject(DataSource) private readonly db: DataSource) {}

  async problem(): Promise<string | null> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<string>((resolve) => {
      timer = setTimeout(
        () => resolve(`database unreachable: no answer within ${READINESS_TIMEOUT_MS} ms`),
        READINESS_TIMEOUT_MS,
      );
    });
    try {
      return await Promise.race([this.check(), late]);
    } finally {
      clearTimeout(timer);
    }
  }

  private async check(): Promise<string | null> {
    try {
      await this.db.query('SELECT 1');
      return (await this.db.showMigrations()) ? 'database migrations are pending' : null;
    } catch (error) {
      return `database unreachable: ${error instanceof Error ? error.message : String(error)}`;
    }
  }
}
