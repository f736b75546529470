/** The release routes' entries of `ROUTE_DOCS` (server/http/openapi.ts), kept beside the routes. */
import { DeviceReleaseTarget } from '../../protocol/index.js';

const READ = ['department', 'technician'] as const;
const MANAGE = ['department'] as const;

export const RELEASE_ROUTE_DOCS = {
  'GET /api/v1/releases': { summary: 'uploaded releases, complete or still missing files', who: READ },
  'GET /api/v1/releases/fleet': { summary: 'the release every kiosk reports running', who: READ },
  'POST /api/v1/releases': {
    summary: 'upload a signed release manifest (release.json); answers the files still missing',
    who: MANAGE,
  },
  'GET /api/v1/releases/:version': { summary: 'one release', who: READ },
  'PUT /api/v1/releases/files/:sha256': { summary: 'upload one file of a release (streamed, hashed)', who: MANAGE },
  'GET /api/v1/rollouts': { summary: 'rollouts with their phases, counts and failures', who: READ },
  'POST /api/v1/rollouts': { summary: 'roll a release out to a target in phases', who: MANAGE },
  'GET /api/v1/rollouts/:id': { summary: 'one rollout', who: READ },
  'POST /api/v1/rollouts/:id/pause': { summary: 'pause: no further phase opens', who: MANAGE },
  'POST /api/v1/rollouts/:id/resume': { summary: 'resume a paused rollout', who: MANAGE },
  'POST /api/v1/rollouts/:id/abort': { summary: 'abort: kiosks not yet switched drop the update', who: MANAGE },
  'GET /api/v1/devices/:id/release': {
    summary: 'the release this device is to run (ETag)',
    who: 'device',
    response: DeviceReleaseTarget,
  },
  'GET /api/v1/devices/:id/release/files/:sha256': { summary: 'a file of that release (Range, ETag)', who: 'device' },
  'HEAD /api/v1/devices/:id/release/files/:sha256': { summary: 'a file of that release', who: 'device' },
} as const;
