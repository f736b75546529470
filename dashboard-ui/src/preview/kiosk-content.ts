/**
 * What the kiosk's views import as `../content.js`, in the dashboard's preview frame: the kiosk's own module, with
 * file addresses pointing at the server's content files (the draft is not on any kiosk yet). build-dashboard-ui.ts
 * swaps this in for imports made by kiosk-ui/src/views only.
 */
export * from '../../../kiosk-ui/src/content.js';

export function fileUrl(sha256: string): string {
  return `/api/v1/content/files/${sha256}`;
}
