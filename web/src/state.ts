import type { Api, Granularity, UsageConfig } from './api';
import type { Claims } from './session';
import { browserZone, customRange, presetRange, type Preset, type Range } from './time';

/** What every view reads: the caller, the service's config and the chosen range. */
export interface Context {
  api: Api;
  claims: Claims;
  config: UsageConfig;
  filters: Filters;
  navigate: (path: string) => void;
  /** called when a view is left: timers stop */
  onLeave: (dispose: () => void) => void;
  /** re-renders the current view (after a filter changed) */
  refresh: () => void;
}

export interface Filters {
  preset: Preset;
  customFrom: string;
  customTo: string;
  tz: string;
  granularity: Granularity;
}

export const DEFAULT_GRANULARITY: Record<Preset, Granularity> = {
  today: 'hour',
  '7d': 'day',
  '30d': 'day',
  '90d': 'week',
  custom: 'day',
};

export function initialFilters(): Filters {
  return { preset: '30d', customFrom: '', customTo: '', tz: browserZone(), granularity: 'day' };
}

export function rangeOf(filters: Filters): Range {
  if (filters.preset === 'custom') {
    const range = customRange(filters.customFrom, filters.customTo, filters.tz);
    if (range) return range;
  }
  return presetRange(filters.preset === 'custom' ? '30d' : filters.preset, filters.tz);
}

/** The query every usage endpoint takes. */
export function usageQuery(filters: Filters) {
  return { ...rangeOf(filters), tz: filters.tz };
}
