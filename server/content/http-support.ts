/** Small pieces shared by the content route modules (validation is the server's own: `http/validate.ts`). */
import type { AuthMiddleware } from '../auth/auth-middleware.js';

/** The core's auth middlewares: `requireRole` sets `c.var.user`, `requireDevice` sets `c.var.device`. */
export type ContentAuth = Pick<AuthMiddleware, 'requireRole' | 'requireDevice'>;
