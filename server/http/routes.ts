/**
 * Every HTTP route module of the server, mounted here and nowhere else. To add a part of the API, write
 * `export function fooRoutes(deps: RouteDeps): Hono<AppEnv>` and add one line below.
 */

import { authRoutes } from '../auth/auth-routes.js';
import { auditRoutes, usersRoutes } from '../auth/users-routes.js';
import { commandRoutes } from '../commands/command-routes.js';
import { createContentRoutes, createFileRoutes, createKeyRoutes } from '../content/index.js';
import { createCoverageRoutes } from '../coverage/coverage-routes.js';
import { createDashboardRoutes } from '../dashboard/create-dashboard-routes.js';
import { uiLabelsRoutes } from '../dashboard/ui-labels.js';
import { createProvisioningRoutes } from '../provisioning/provisioning-routes.js';
import { registryRoutes } from '../registry/registry-routes.js';
import { releaseRoutes } from '../releases/index.js';
import { yearlyReportRoutes } from '../reports/yearly-routes.js';
import type { RouteModule } from './app.js';
import type { AppEnv } from './app-env.js';
import { mountedRoutes, openApiRoutes } from './openapi.js';
import { opsRoutes } from './ops-routes.js';
import type { RouteDeps } from './route-deps.js';

export function routeModules(deps: RouteDeps): RouteModule[] {
  const modules: RouteModule[] = [
    { path: '/api', app: openApiRoutes(() => mountedRoutes(modules)) },
    { path: '/', app: opsRoutes(deps) },
    { path: '/api/v1/auth', app: authRoutes(deps) },
    { path: '/api/v1/users', app: usersRoutes(deps) },
    { path: '/api/v1/audit', app: auditRoutes(deps) },
    { path: '/api/v1', app: registryRoutes(deps) },
    { path: '/api/v1', app: commandRoutes(deps) },
    { path: '/api/v1', app: createProvisioningRoutes<AppEnv>({ ...deps, manifestKey: deps.signingKeys.publicKeyPem }) },
    {
      path: '/api/v1',
      app: createCoverageRoutes({
        db: deps.db,
        requireRole: deps.auth.requireRole,
        offlineAfterMs: deps.config.OFFLINE_AFTER,
        audit: deps.audit,
        defaultPlanId: 'gia-lai-2509-2020',
      }),
    },
    { path: '/', app: createContentRoutes({ ...deps.content, auth: deps.auth }) },
    { path: '/', app: createFileRoutes({ ...deps.content, auth: deps.auth }) },
    { path: '/', app: createKeyRoutes({ ...deps.content, auth: deps.auth }) },
    { path: '/', app: createDashboardRoutes(deps) },
    { path: '/api/v1', app: yearlyReportRoutes({ ...deps, defaultPlanId: 'gia-lai-2509-2020' }) },
    { path: '/api/v1', app: uiLabelsRoutes(deps) },
    { path: '/', app: releaseRoutes(deps) },
  ];
  return modules;
}
