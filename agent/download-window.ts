/** `downloadWindow` ("HH:MM-HH:MM" in local time, may wrap midnight): whether now is inside, and when it next opens. */

function minutes(hhmm: string): number {
  const [h, m] = hhmm.split(':').map(Number);
  return (h ?? 0) * 60 + (m ?? 0);
}

export function inDownloadWindow(window: string | null, now: Date): boolean {
  if (!window) return true;
  const [from, to] = window.split('-') as [string, string];
  const start = minutes(from);
  const end = minutes(to);
  const t = now.getHours() * 60 + now.getMinutes();
  if (start === end) return true;
  return start < end ? t >= start && t < end : t >= start || t < end;
}

/** Milliseconds from `now` until the window next opens (0 when open). */
export function msUntilWindow(window: string | null, now: Date): number {
  if (inDownloadWindow(window, now) || !window) return 0;
  const start = minutes(window.split('-')[0] as string);
  const t = now.getHours() * 60 + now.getMinutes();
  const wait = (start - t + 24 * 60) % (24 * 60);
  return wait * 60_000 - now.getSeconds() * 1000 - now.getMilliseconds();
}
