/**
 * HTTP of the manifest keys (DESIGN §7), admin only, every change audited: the keyring's state, a rotation
 * signed by the root held on the server, and the offline-root flow (prepare → sign elsewhere → publish).
 * Kiosks receive the keys document inside each manifest envelope, so there is no device route here.
 */
import { Hono } from 'hono';
import { z } from 'zod';
import { SignedKeysDocument } from '../../protocol/index.js';
import type { AppEnv } from '../http/app-env.js';
import { bodyLimit } from '../http/body-limit.js';
import { json } from '../http/validate.js';
import type { ContentAuth } from './http-support.js';
import type { ContentServices } from './services.js';

const TlsCasBody = z.object({ tlsCas: z.array(z.string().max(16_000)).min(1).max(8) });

export function createKeyRoutes(deps: Pick<ContentServices, 'keyring' | 'distribution'> & { auth: ContentAuth }): Hono<AppEnv> {
  const { keyring, distribution, auth } = deps;
  const admin = auth.requireRole('admin');
  const app = new Hono<AppEnv>();

  app.get('/api/v1/keys', admin, (c) => c.json(keyring.status()));

  app.post('/api/v1/keys/rotate', admin, (c) => {
    const by = c.var.user.username;
    const signed = keyring.rotate(by);
    const notified = distribution.keysChanged();
    return c.json({ ...keyring.status(), version: signed.document.version, notified });
  });

  app.post('/api/v1/keys/prepare', admin, (c) => c.json({ document: keyring.prepare(c.var.user.username) }));

  app.post('/api/v1/keys/publish', admin, bodyLimit(256 * 1024), json(SignedKeysDocument), (c) => {
    const signed = keyring.publish(c.req.valid('json'), c.var.user.username);
    const notified = distribution.keysChanged();
    return c.json({ ...keyring.status(), version: signed.document.version, notified });
  });

  // The CAs kiosks trust for the server's TLS (docs/deployment.md: add → switch → retire). The full set is given.
  app.post('/api/v1/keys/tls-cas', admin, bodyLimit(256 * 1024), json(TlsCasBody), (c) => {
    const result = keyring.setTlsCas(c.req.valid('json').tlsCas, c.var.user.username);
    if ('document' in result) return c.json({ document: result.document, signed: false }, 202);
    const notified = distribution.keysChanged();
    return c.json({ ...keyring.status(), version: result.signed.document.version, notified, signed: true });
  });

  return app;
}
