import { inject, injectable } from 'tsyringe';
import { DataSource } from 'typeorm';
import type { DatabaseHealth } from '../../application/ports/database-health.port';

@injectable()
export class PgDatabaseHealth implements DatabaseHealth {
  constructor(@inject(DataSource) private readonly db: DataSource) {}

  async problem(): Promise<string | null> {
    try {
      await this.db.query('SELECT 1');
      return (await this.db.showMigrations()) ? 'database migrations are pending' : null;
    } catch (error) {
      return `database unreachable: ${error instanceof Error ? error.message : String(error)}`;
    }
  }
}
