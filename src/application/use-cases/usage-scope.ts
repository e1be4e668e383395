import type { UsageFilter, UsageScope } from '../ports/usage-queries.port';
import { usageWindow, type UsageWindowInput } from '../../domain/usage-window';

export interface UsageRequest extends UsageWindowInput, UsageFilter {}

/** The validated scope of a Usage tab query, confined to the caller's workspace. */
export function scopeOf(workspaceId: string, request: UsageRequest, now: Date): UsageScope {
  const { provider, model, userId, ...window } = request;
  return { workspaceId, window: usageWindow(window, now), filter: { provider, model, userId } };
}
