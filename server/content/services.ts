/**
 * Builds the content part of the server from what the core hands over: the database, the data folder, the
 * first signing key, the audit log and the broker's manifest notice. One call in the server's composition root.
 */
import type { SigningKeys } from '../../protocol/index.js';
import type { AuditFn } from '../auth/audit.js';
import type { Database } from '../db/open-database.js';
import { createDistribution, type Distribution } from './distribution.js';
import { type Keyring, openKeyring } from './signing-keys.js';
import { type ContentStore, createContentStore } from './store.js';
import { createWorkflow, type Workflow } from './workflow.js';

export interface ContentServiceDeps {
  db: Database;
  dataDir: string;
  /** `loadOrCreateSigningKeys(DATA_DIR)`: the first signing key; the keyring (DESIGN §7) starts from it. */
  keys: SigningKeys;
  audit: AuditFn;
  /** The broker's `manifest` notice; reaches connected devices only. */
  notifyManifest: (deviceId: string, seq: number) => void;
  /** Largest upload in bytes (default 2 GiB). */
  maxUploadBytes?: number;
  now?: () => number;
}

export interface ContentServices {
  db: Database;
  store: ContentStore;
  workflow: Workflow;
  distribution: Distribution;
  /** Root, keys documents and signing keys: rotation and the key routes. */
  keyring: Keyring;
  maxUploadBytes: number;
}

export function createContentServices(deps: ContentServiceDeps): ContentServices {
  const store = createContentStore({ dataDir: deps.dataDir, ...(deps.maxUploadBytes ? { maxBytes: deps.maxUploadBytes } : {}) });
  const clock = deps.now ? { now: deps.now } : {};
  const keyring = openKeyring({ db: deps.db, dataDir: deps.dataDir, initial: deps.keys, audit: deps.audit, ...clock });
  return {
    db: deps.db,
    store,
    workflow: createWorkflow({ db: deps.db, audit: deps.audit, ...clock }),
    distribution: createDistribution({ db: deps.db, signer: keyring.signer, notifyManifest: deps.notifyManifest, ...clock }),
    keyring,
    maxUploadBytes: deps.maxUploadBytes ?? 2 * 1024 ** 3,
  };
}
