/**
 * Calendar dates as the API carries them ("YYYY-MM-DD"), and the trading days of the dataset.
 */

const isoDate = /^(\d{4})-(\d{2})-(\d{2})$/;

/** True for a real calendar date written "YYYY-MM-DD" (so "2023-02-30" is false). */
export function isIsoDate(text: string): boolean {
  const match = isoDate.exec(text);
  if (match === null) return false;
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  if (year < 1900 || year > 2200) return false;
  const date = new Date(Date.UTC(year, month - 1, day));
  return date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
}

/** The "YYYY-MM-DD" of a UTC instant. */
export function formatDate(date: Date): string {
  return date.toISOString().slice(0, 10);
}

/** Every weekday from `first` to `last` inclusive: the dataset's trading calendar (no holidays). */
export function weekdaysBetween(first: string, last: string): string[] {
  const days: string[] = [];
  const end = Date.parse(`${last}T00:00:00Z`);
  for (let at = Date.parse(`${first}T00:00:00Z`); at <= end; at += 86_400_000) {
    const weekday = new Date(at).getUTCDay();
    if (weekday !== 0 && weekday !== 6) days.push(formatDate(new Date(at)));
  }
  return days;
}
