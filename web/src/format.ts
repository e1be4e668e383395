/** Numbers and dates for people, with the exact value for a title (shown on hover). */
const locale = typeof navigator === 'undefined' ? 'en' : navigator.language;

const compactFormat = new Intl.NumberFormat(locale, { notation: 'compact', maximumFractionDigits: 1 });
const exactFormat = new Intl.NumberFormat(locale);
const moneyFormat = new Intl.NumberFormat(locale, { style: 'currency', currency: 'USD' });

/** 1.2M, 34K, 512 */
export const compact = (n: number): string => compactFormat.format(n);
export const exact = (n: number): string => exactFormat.format(n);

/** $12.34; a small non-zero amount as "< $0.01" */
export function money(amount: string | null | undefined): string {
  if (amount === null || amount === undefined) return '—';
  const n = Number(amount);
  if (n > 0 && n < 0.01) return `< ${moneyFormat.format(0.01)}`;
  return moneyFormat.format(n);
}

/** the decimal string as the service sent it */
export const exactMoney = (amount: string | null | undefined): string =>
  amount === null || amount === undefined ? 'unpriced' : `$${amount}`;

export const percent = (ratio: number, digits = 1): string =>
  new Intl.NumberFormat(locale, { style: 'percent', maximumFractionDigits: digits }).format(ratio);

export function dateTime(iso: string, timeZone: string): string {
  return new Intl.DateTimeFormat(locale, { timeZone, dateStyle: 'medium', timeStyle: 'short' }).format(new Date(iso));
}

export function bucketLabel(iso: string, timeZone: string, granularity: string): string {
  const options: Intl.DateTimeFormatOptions =
    granularity === 'hour'
      ? { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' }
      : granularity === 'month'
        ? { year: 'numeric', month: 'short' }
        : { year: 'numeric', month: 'short', day: 'numeric' };
  return new Intl.DateTimeFormat(locale, { timeZone, ...options }).format(new Date(iso));
}

export function bytes(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}

export const milliseconds = (ms: number | null): string => (ms === null ? '—' : `${exact(Math.round(ms))} ms`);
