/** An RFC 3339 date-time with its offset: what `format: date-time` means in every schema here. */
const ISO_DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/i;

/**
 * The instant an RFC 3339 date-time names, or null when it is not one. JavaScript's parser
 * reads some dates that do not exist as another day (2026-02-30 as 2 March, 2026-04-31 as
 * 1 May, 24:00 as the next midnight) and a leap second (23:59:60) as no instant at all: a
 * client's slip like that is refused here, never stored as some other time.
 */
export function parseIsoDateTime(value: string): Date | null {
  const parts = ISO_DATE_TIME.exec(value);
  if (!parts) return null;
  const [year, month, day, hour] = parts.slice(1, 5).map(Number) as [number, number, number, number];
  // day 0 of the next month is the last day of this one
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth || hour > 23) return null;
  const at = new Date(value);
  return Number.isNaN(at.getTime()) ? null : at;
}
