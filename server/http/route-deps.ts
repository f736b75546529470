/** What a route module factory `(deps) => Hono` receives. Built once in create-server.ts. */
import type { Logger } from 'pino';
import type { SigningKeys } from '../../protocol/index.js';
import type { AuditFn } from '../auth/audit.js';
import type { AuthMiddleware } from '../auth/auth-middleware.js';
import type { LoginLimiter } from '../auth/login-limiter.js';
import type { BackupSchedule } from '../backup/schedule.js';
import type { ServerConfig } from '../config.js';
import type { ContentServices } from '../content/index.js';
import type { Database } from '../db/open-database.js';
import type { ReleaseService } from '../releases/index.js';
import type { ServerMetrics } from './metrics.js';

/** What the broker side offers to HTTP routes and other modules. */
export interface FleetControl {
  /** Marks the device decommissioned, disconnects it now and refuses it afterwards; false if unknown. */
  revokeDevice(deviceId: string): boolean;
  /** Tells a device (if connected) that a newer manifest exists. */
  notifyManifest(deviceId: string, seq: number): void;
  /** Queues a command and sends it at once when the device is online. */
  sendCommand: (input: { deviceId: string; type: string; params: unknown; createdBy: string; ttlMs: number }) => { id: string };
  /** Number of devices connected right now. */
  connectedDevices(): number;
}

/** Where the server can be reached; filled in once the listeners are bound (ports may be 0 in config). */
export interface ServerUrls {
  /** HTTP base URL handed to devices and tools (PUBLIC_URL, or derived from the HTTP address). */
  publicUrl: string;
  /** MQTT URL handed to devices (mqtts:// when PUBLIC_URL is https). */
  mqttUrl: string;
  /** The CA devices pin (PEM) and its SHA-256 fingerprint, handed out at enrollment; null = none to pin. */
  caPem?: string | null;
  caFingerprint?: string | null;
}

export interface RouteDeps {
  config: ServerConfig;
  db: Database;
  log: Logger;
  metrics: ServerMetrics;
  auth: AuthMiddleware;
  audit: AuditFn;
  loginLimiter: LoginLimiter;
  fleet: FleetControl;
  urls: ServerUrls;
  content: ContentServices;
  /** The Ed25519 key that signs manifests; its public half is handed to devices at enrollment. */
  signingKeys: SigningKeys;
  /** Scheduled backups (GET /api/v1/backups); null when BACKUP_DIR is not set. */
  backups?: BackupSchedule | null;
  /** Over-the-air releases and rollouts (server/releases/); built from the rest when absent. */
  releases?: ReleaseService;
}
