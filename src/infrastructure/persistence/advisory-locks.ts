/**
 * The advisory lock keys of every process on one database, each taken for one purpose, so
 * that no two purposes wait for each other by accident: partition upkeep once shared the
 * fold's key (a start waited for a fold or an erasure in another instance), retention the
 * catalog seed's. Migrations that take the fold's lock name its value themselves: what a
 * migration does never changes.
 */
export const ADVISORY_LOCKS = {
  /** migrations: concurrent starts take turns */
  migrations: 727_412_001,
  /** the fold and every other writer of the rollups (erasure, re-pricing, forgetting slots) */
  rollups: 727_412_002,
  /** loading the built-in price catalog */
  catalogSeed: 727_412_003,
  /** creating monthly partitions ahead of time */
  partitions: 727_412_004,
  /** dropping partitions past the raw window (a detach must never wait on a transaction waiting on it) */
  retention: 727_412_005,
  /** rebuilding the pending queue's index once a backlog is gone */
  pendingIndex: 727_412_006,
} as const;
