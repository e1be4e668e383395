import { inject, injectable } from 'tsyringe';
import type { Clock } from '../ports/clock.port';
import type { LiveHour, LiveUsage, ServiceStatus } from '../ports/live-usage.port';
import { TOKENS } from '../ports/tokens';

/** The last hour by minute, always fresh: read from the raw records, not the rollups. */
@injectable()
export class GetRealtimeUsage {
  constructor(
    @inject(TOKENS.LiveUsage) private readonly live: LiveUsage,
    @inject(TOKENS.Clock) private readonly clock: Clock,
  ) {}

  execute(workspaceId: string): Promise<LiveHour> {
    return this.live.lastHour(workspaceId, this.clock.now());
  }
}

/** What an operator checks first: intake, backlogs and storage. */
@injectable()
export class GetServiceStatus {
  constructor(
    @inject(TOKENS.LiveUsage) private readonly live: LiveUsage,
    @inject(TOKENS.Clock) private readonly clock: Clock,
  ) {}

  async execute(workspaceId: string): Promise<ServiceStatus & { now: Date }> {
    const now = this.clock.now();
    return { now, ...(await this.live.status(workspaceId, now)) };
  }
}
