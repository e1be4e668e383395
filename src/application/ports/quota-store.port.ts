import type { Decimal } from '../../domain/decimal';

export interface QuotaUsage {
  usedTokens: number;
  usedCost: Decimal;
  reservedTokens: number;
  reservedCost: Decimal;
}

export interface ReservationRequest {
  workspaceId: string;
  userId: string;
  requestId: string;
  estimatedTokens: number;
  /** USD the call may cost; null when unknown (no cost limit then applies) */
  estimatedCost: Decimal | null;
  provider: string | null;
  model: string | null;
  ttlSeconds: number;
  now: Date;
}

export interface Reservation {
  id: string;
  userId: string;
  requestId: string;
  periodStart: Date;
  expiresAt: Date;
  overLimit: boolean;
}

/** Limits and usage as the reservation saw them, under the user's lock. */
export interface ReservationView {
  tokenLimit: number | null;
  costLimit: Decimal | null;
  usage: QuotaUsage;
}

export type ReservationOutcome =
  | { kind: 'granted' | 'existing'; reservation: Reservation; view: ReservationView }
  | { kind: 'quota_exceeded'; periodStart: Date; resetsAt: Date; view: ReservationView }
  | { kind: 'rate_limited'; retryAfterSeconds: number; resetsAt: Date; view: ReservationView }
  /** the request id holds a reservation of another user */
  | { kind: 'conflict' }
  /** the request id's reservation (this user's) is no longer held: a retry must not be granted */
  | { kind: 'ended'; how: ReservationEnd; reservationId: string };

/** How a reservation stopped holding budget. */
export type ReservationEnd = 'released' | 'expired' | 'settled';

export type ReleaseOutcome = 'released' | 'not_found' | 'settled' | 'forbidden';

export interface QuotaStore {
  usage(workspaceId: string, userId: string, periodStart: Date, now: Date): Promise<QuotaUsage>;
  /**
   * Atomic: any number of concurrent calls, on any number of instances, never take more than a
   * limit. Calls that arrive together may be decided in one database call, with the latest `now`
   * among them.
   */
  reserve(request: ReservationRequest): Promise<ReservationOutcome>;
  /** Releases an active reservation; `userId` set: only if it is that user's. */
  release(workspaceId: string, reservationId: string, userId?: string): Promise<ReleaseOutcome>;
  /** Releases those of the reservations still active, in one database call; how many were. */
  releaseAll(workspaceId: string, reservationIds: readonly string[]): Promise<number>;
}
