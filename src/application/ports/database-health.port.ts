export interface DatabaseHealth {
  /** null when the database answers and every migration is applied, else what is wrong */
  problem(): Promise<string | null>;
}
