/** Why the service is not ready: a reason any caller may read, and what only the log is told. */
export interface ReadinessProblem {
  /** generic: no host, port, user name or path ('database unreachable') */
  reason: string;
  /** the driver's own words (they name the server and the user); for the log only */
  detail?: string;
}

export interface DatabaseHealth {
  /** null when the database answers and every migration is applied, else what is wrong */
  problem(): Promise<ReadinessProblem | null>;
}
