import { inject, injectable } from 'tsyringe';
import { DataSource } from 'typeorm';
import type { TimeZoneRules } from '../../application/ports/time-zone-rules.port';
import { adoptZoneRules, hasZoneRules, refuseZone } from '../../domain/time-zone-rules';
import { isTimeZone } from '../../domain/usage-window';
import { sayingUnavailable } from './database-unavailable';

/** The span read: every instant a range may start in (from 1970) up to 2100; later years Intl answers. */
const FROM = Date.UTC(1970, 0, 1);
const TO = Date.UTC(2100, 0, 1);

/**
 * A zone's offset every day at 00:00 UTC, and, where it changed since the day before, the
 * first quarter hour of that day that has the new offset: since 1980 every zone changes at a
 * whole quarter hour (before, a change at an odd minute is placed at the next quarter hour).
 * Offsets in whole minutes, rounded as Intl rounds them. ~47k days: 0.1–0.3 s here, once a zone
 * and process.
 */
const RULES = `
WITH days AS (
  SELECT d, round((extract(epoch FROM d AT TIME ZONE $1) - extract(epoch FROM d)) / 60)::int AS offset_minutes
  FROM generate_series(to_timestamp($2::float8 / 1000), to_timestamp($3::float8 / 1000), interval '1 day') AS d
),
changed AS (
  SELECT d, offset_minutes, lag(offset_minutes) OVER (ORDER BY d) AS before FROM days
),
changes AS (
  SELECT c.offset_minutes, (
    SELECT q FROM generate_series(c.d - interval '1 day', c.d, interval '15 minutes') AS q
    WHERE round((extract(epoch FROM q AT TIME ZONE $1) - extract(epoch FROM q)) / 60) = c.offset_minutes
    ORDER BY q LIMIT 1) AS at
  FROM changed c WHERE c.offset_minutes <> c.before
)
SELECT (SELECT offset_minutes FROM days ORDER BY d LIMIT 1) AS initial,
  coalesce((SELECT array_agg(extract(epoch FROM at) * 1000 ORDER BY at) FROM changes), '{}') AS changes,
  coalesce((SELECT array_agg(offset_minutes ORDER BY at) FROM changes), '{}') AS offsets`;

/** PostgreSQL's answer to a zone name it does not know. */
const INVALID_PARAMETER_VALUE = '22023';

@injectable()
export class PgTimeZoneRules implements TimeZoneRules {
  /** One read per zone at a time: concurrent first requests in a zone wait for the same one. */
  private readonly reading = new Map<string, Promise<boolean>>();

  constructor(@inject(DataSource) private readonly db: DataSource) {}

  async load(zone: string): Promise<boolean> {
    if (!isTimeZone(zone)) return false;
    if (hasZoneRules(zone)) return true;
    const key = zone.toLowerCase();
    let read = this.reading.get(key);
    if (!read) {
      read = this.read(zone).finally(() => this.reading.delete(key));
      this.reading.set(key, read);
    }
    return read;
  }

  private async read(zone: string): Promise<boolean> {
    let rows: Array<{ initial: number; changes: Array<string | number>; offsets: number[] }>;
    try {
      rows = await sayingUnavailable(() => this.db.query(RULES, [zone, FROM, TO]));
    } catch (error) {
      const e = error as { code?: string; driverError?: { code?: string } };
      if ((e.driverError?.code ?? e.code) !== INVALID_PARAMETER_VALUE) throw error;
      refuseZone(zone);
      return false;
    }
    const [row] = rows;
    adoptZoneRules(zone, {
      initial: row!.initial,
      changes: row!.changes.map(Number),
      offsets: row!.offsets,
      from: FROM,
      to: TO,
    });
    return true;
  }
}
