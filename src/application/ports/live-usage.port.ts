import type { OperationUsage } from './usage-queries.port';

/** One minute of the last hour. */
export interface LiveMinute {
  minuteStart: Date;
  requests: number;
  totalTokens: number;
  errors: number;
  durationMsSum: number;
  durationCount: number;
}

/** The last hour of a workspace, read from the raw records so it is never behind ingest. */
export interface LiveHour {
  from: Date;
  to: Date;
  /** every minute of the hour, oldest first, zero-filled */
  minutes: LiveMinute[];
  requests: number;
  errors: number;
  durationMsSum: number;
  durationCount: number;
  activeUsers: number;
  operations: OperationUsage[];
  /** records that occurred in the 60 seconds before `to` */
  lastMinuteRequests: number;
}

export interface ServiceStatus {
  /** records of the workspace received in the last minute (those that occurred within the hour) */
  acknowledgedLastMinute: number;
  rollupBacklog: { entries: number; oldestOccurredAt: Date | null };
  databaseBytes: number;
  /** the lower bound of the oldest monthly partition of raw records, null when none exists */
  oldestRawPartition: { name: string; from: Date } | null;
  webhookBacklog: { pending: number; oldestCreatedAt: Date | null };
}

/** Read side of live figures and the service's own state. */
export interface LiveUsage {
  /** the hour [to − 60 min, to) with `to` the end of the current minute */
  lastHour(workspaceId: string, now: Date): Promise<LiveHour>;
  status(workspaceId: string, now: Date): Promise<ServiceStatus>;
}
