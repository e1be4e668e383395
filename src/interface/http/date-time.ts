/** An ISO 8601 date-time with its offset: what `format: date-time` means in every schema here. */
const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/i;

/**
 * The instant an ISO 8601 date-time with offset names, or null when it is not one — also when
 * it is well-formed but names no instant JavaScript can hold (a leap second, 23:59:60, which
 * RFC 3339 allows): accepted by the schema and then read as an invalid date, it was a 500.
 */
export function parseDateTime(value: string): Date | null {
  if (!ISO_DATE_TIME.test(value)) return null;
  const at = new Date(value);
  return Number.isNaN(at.getTime()) ? null : at;
}
