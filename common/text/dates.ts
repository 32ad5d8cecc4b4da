/**
 * Dates as people read them: "1 Dec 2027", not "2027-12-01T00:00:00Z". One
 * definition for the app, the CLI's human output and the messages both show
 * (--json output keeps the ISO form, for scripts).
 */

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'] as const;

const two = (n: number): string => String(n).padStart(2, '0');

/**
 * "1 Dec 2027" for an instant at midnight UTC (how policies give their days),
 * "1 Dec 2027, 14:30 UTC" for any other instant: in UTC both, so the day named
 * is the one the instant belongs to whatever the reader's time zone. A text
 * that is not a date comes back as it is.
 */
export function formatDay(iso: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  const day = `${date.getUTCDate()} ${MONTHS[date.getUTCMonth()]} ${date.getUTCFullYear()}`;
  const midnight = date.getUTCHours() === 0 && date.getUTCMinutes() === 0 && date.getUTCSeconds() === 0 && date.getUTCMilliseconds() === 0;
  return midnight ? day : `${day}, ${two(date.getUTCHours())}:${two(date.getUTCMinutes())} UTC`;
}
