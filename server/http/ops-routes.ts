/**
 * `/healthz` (liveness) and `/metrics` (Prometheus text). `/healthz` is open, as probes expect; `/metrics` is open
 * too unless METRICS_TOKEN is set, then it wants `Authorization: Bearer <METRICS_TOKEN>` (Prometheus'
 * `authorization` / `bearer_token_file` in the scrape config, deploy/monitoring/prometheus.yml).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { Hono } from 'hono';
import type { AppEnv } from './app-env.js';
import { renderMetrics } from './metrics.js';
import type { RouteDeps } from './route-deps.js';

const digest = (text: string) => createHash('sha256').update(text).digest();

/** Whether an Authorization header carries the token (compared in constant time). */
export function bearerMatches(header: string | undefined, token: string): boolean {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return match !== null && timingSafeEqual(digest(match[1] as string), digest(token));
}

export function opsRoutes(deps: RouteDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const token = deps.config.METRICS_TOKEN;
  app.get('/healthz', (c) => {
    deps.db.prepare('SELECT 1').get();
    return c.json({ ok: true });
  });
  app.get('/metrics', async (c) => {
    if (token !== undefined && !bearerMatches(c.req.header('authorization'), token)) {
      return c.json({ error: { code: 'unauthorized', message: 'metrics need Authorization: Bearer <METRICS_TOKEN>' } }, 401, {
        'WWW-Authenticate': 'Bearer realm="metrics"',
      });
    }
    const { text, contentType } = await renderMetrics(deps.metrics);
    return c.text(text, 200, { 'Content-Type': contentType });
  });
  app.get('/api/v1/backups', deps.auth.requireRole('admin', 'department'), async (c) =>
    c.json(deps.backups ? await deps.backups.status() : { configured: false }),
  );
  return app;
}
