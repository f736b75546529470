/** `ROUTE_DOCS` entries (server/http/openapi.ts) of the routes issue 16 added: report, map, sites, labels, users. */

import { z } from 'zod';
import { MapBase, PasswordReset, SiteOut, UiLabelsOut, UserTokens } from '../../protocol/api.js';

const READERS = ['department', 'editor', 'approver', 'technician'] as const;

export const DEPARTMENT_ROUTE_DOCS = {
  'GET /api/v1/reports/yearly.docx': {
    summary: "the department's yearly report (Word): coverage at the year's end, communes, content, availability, views",
    who: READERS,
  },
  'GET /api/v1/map/base': {
    summary: 'offline base map: projected country outlines, national borders and the sites with coordinates',
    who: ['admin', 'department', 'technician'],
    response: MapBase,
  },
  'PATCH /api/v1/sites/:id': {
    summary: "edit a site's coordinates (lat, lon, coordApprox), name or note; audited",
    who: ['department'],
    response: z.object({ site: SiteOut }),
  },
  'GET /api/v1/ui-labels/:lang': {
    summary: 'kiosk interface labels the department entered for jra, bdq, sed, jeh or brb, with the key list',
    who: ['department', 'editor', 'approver'],
    response: UiLabelsOut,
  },
  'PUT /api/v1/ui-labels/:lang': {
    summary: 'replace those labels (checked against kiosk-ui keys); they reach kiosks in the signed manifest',
    who: ['department', 'editor'],
    response: UiLabelsOut,
  },
  'POST /api/v1/users/:username/reset-password': {
    summary: 'a new one-time password, answered once; open sessions end',
    who: ['admin'],
    response: PasswordReset,
  },
  'GET /api/v1/users/:username/tokens': { summary: "a user's API tokens", who: ['admin'], response: UserTokens },
  'DELETE /api/v1/users/:username/tokens/:id': {
    summary: "revoke one of a user's API tokens",
    who: ['admin'],
    response: UserTokens,
  },
} as const;
