/** A zone's offsets, read from the database that computes quota periods and local labels. */
export interface TimeZoneRules {
  /**
   * Makes the zone's rules known to the domain (domain/time-zone-rules.ts) before a range is
   * cut in it; false when it is not a zone both Intl and the database know. Cheap after the
   * first call for a zone.
   */
  load(zone: string): Promise<boolean>;
}
