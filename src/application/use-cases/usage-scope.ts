import { inject, injectable } from 'tsyringe';
import type { TimeZoneRules } from '../ports/time-zone-rules.port';
import { TOKENS } from '../ports/tokens';
import type { UsageFilter, UsageScope } from '../ports/usage-queries.port';
import { usageWindow, type UsageWindowInput } from '../../domain/usage-window';

export interface UsageRequest extends UsageWindowInput, UsageFilter {}

/** The validated scope of a Usage tab query, confined to the caller's workspace. */
export function scopeOf(workspaceId: string, request: UsageRequest, now: Date): UsageScope {
  const { provider, model, userId, ...window } = request;
  return { workspaceId, window: usageWindow(window, now), filter: { provider, model, userId } };
}

/**
 * Scopes of Usage tab queries, their zone's offsets read from the database first: the range is
 * cut into local days and months by the same rules PostgreSQL labels and zero-fills with.
 */
@injectable()
export class UsageScopes {
  constructor(@inject(TOKENS.TimeZoneRules) private readonly zones: TimeZoneRules) {}

  async of(workspaceId: string, request: UsageRequest, now: Date): Promise<UsageScope> {
    // a zone neither knows is refused by scopeOf, at the tz parameter
    await this.zones.load(request.tz ?? 'UTC');
    return scopeOf(workspaceId, request, now);
  }
}
