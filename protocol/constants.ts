/**
 * The contract's plain lists (site kinds, roles, states, alert types, languages), each defined once. No zod here:
 * the dashboard's and the kiosk's pages import this module for their values and take every type with
 * `import type` from the schemas (domain.ts, api.ts, api-dashboard.ts), which are built from these lists.
 * tests/dashboard-bundle.test.ts keeps zod out of both pages' bundles.
 */

export const SITE_KINDS = ['district', 'commune', 'station', 'gate', 'office'] as const;

export const DEVICE_KINDS = ['kiosk', 'display', 'pc', 'speaker', 'other'] as const;

export const DEVICE_STATUSES = ['registered', 'provisioned', 'active', 'decommissioned'] as const;

export const ROLES = ['admin', 'department', 'editor', 'approver', 'technician'] as const;

export const CONTENT_KINDS = ['document', 'video', 'image', 'audio', 'bulletin', 'leaflet', 'webpage'] as const;

export const CONTENT_STATES = ['draft', 'in_review', 'published', 'retired'] as const;

export const COMMAND_STATES = ['queued', 'sent', 'acked', 'succeeded', 'failed', 'expired'] as const;

/** A site's state on the dashboard's table and map (server/dashboard/dashboard-repo.ts computes it). */
export const SITE_STATES = ['operational', 'equipped', 'planned', 'none'] as const;

/** What `GET /api/v1/alerts` reports (server/dashboard/alerts.ts computes them). */
export const ALERT_TYPES = ['offline', 'disk', 'not_synced', 'clock_skew', 'download_failures', 'manifest_expired'] as const;

/** Languages whose interface labels the department enters (nobody on the team writes them). */
export const DEPARTMENT_LABEL_LANGS = ['jra', 'bdq', 'sed', 'jeh', 'brb'] as const;
