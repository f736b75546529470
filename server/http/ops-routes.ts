/** `/healthz` (liveness) and `/metrics` (Prometheus text). Unauthenticated, as scrapers expect. */
import { Hono } from 'hono';
import type { AppEnv } from './app-env.js';
import type { RouteDeps } from './route-deps.js';

export function opsRoutes(deps: RouteDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.get('/healthz', (c) => {
    deps.db.prepare('SELECT 1').get();
    return c.json({ ok: true });
  });
  app.get('/metrics', (c) =>
    c.text(deps.metrics.registry.render(), 200, { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8' }),
  );
  return app;
}
