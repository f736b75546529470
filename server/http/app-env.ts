/** What every route module shares: the variables middleware sets on the Hono context. */
import type { Role } from '../../protocol/index.js';

export interface AuthUser {
  id: number;
  username: string;
  role: Role;
  /** How this request authenticated. */
  via: 'session' | 'token';
}

export interface AuthDevice {
  id: string;
  siteId: string | null;
  status: string;
}

export type AppEnv = { Variables: { user: AuthUser; device: AuthDevice } };
