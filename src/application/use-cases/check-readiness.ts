import { inject, injectable } from 'tsyringe';
import type { DatabaseHealth, ReadinessProblem } from '../ports/database-health.port';
import { TOKENS } from '../ports/tokens';

@injectable()
export class CheckReadiness {
  constructor(@inject(TOKENS.DatabaseHealth) private readonly database: DatabaseHealth) {}

  async execute(): Promise<{ ready: boolean; problems: ReadinessProblem[] }> {
    const problem = await this.database.problem();
    return { ready: problem === null, problems: problem === null ? [] : [problem] };
  }
}
