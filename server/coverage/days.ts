/**
 * Calendar days (YYYY-MM-DD) against instants (ms). The plans' dates are local to the province, so a
 * day starts at local midnight: `utcOffsetMinutes` is that zone's offset (Việt Nam: +420, no DST).
 */

export const VIETNAM_UTC_OFFSET_MINUTES = 420;
const DAY_MS = 86_400_000;
const DAY_PATTERN = /^(\d{4})-(\d{2})-(\d{2})$/;

/** True for a real calendar day written YYYY-MM-DD (2025-02-30 is not one). */
export function isDay(text: string): boolean {
  const m = DAY_PATTERN.exec(text);
  if (!m) return false;
  const date = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return date.toISOString().slice(0, 10) === text;
}

function utcMidnight(day: string): number {
  return Date.parse(`${day}T00:00:00Z`);
}

function formatUtc(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** The first instant after `day` ends, in the zone. */
export function dayEnd(day: string, utcOffsetMinutes: number): number {
  return utcMidnight(day) + DAY_MS - utcOffsetMinutes * 60_000;
}

/** The day an instant falls on, in the zone. */
export function dayOf(instant: number, utcOffsetMinutes: number): string {
  return formatUtc(instant + utcOffsetMinutes * 60_000);
}

export function addDays(day: string, days: number): string {
  return formatUtc(utcMidnight(day) + days * DAY_MS);
}

/** Whole days from `from` to `to` (negative when `to` is earlier). */
export function daysBetween(from: string, to: string): number {
  return Math.round((utcMidnight(to) - utcMidnight(from)) / DAY_MS);
}

/** The last day of the month `day` is in. */
export function endOfMonth(day: string): string {
  const d = new Date(utcMidnight(day));
  return formatUtc(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 0));
}

/** `from`, then the last day of each month after it, up to and including `to` (always the last point). */
export function monthlyDays(from: string, to: string): string[] {
  const days: string[] = [];
  if (from > to) return days;
  days.push(from);
  let next = endOfMonth(from);
  if (next === from) next = endOfMonth(addDays(from, 1));
  while (next < to) {
    days.push(next);
    next = endOfMonth(addDays(next, 1));
  }
  if (to !== from) days.push(to);
  return days;
}
