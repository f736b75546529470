/**
 * Builds the content part of the server from what the core hands over: the database, the data folder, the
 * signing key, the audit log and the broker's manifest notice. One call in the server's composition root.
 */
import type { SigningKeys } from '../../protocol/index.js';
import type { AuditFn } from '../auth/audit.js';
import type { Database } from '../db/open-database.js';
import { createDistribution, type Distribution } from './distribution.js';
import { type ContentStore, createContentStore } from './store.js';
import { createWorkflow, type Workflow } from './workflow.js';

export interface ContentServiceDeps {
  db: Database;
  dataDir: string;
  keys: Pick<SigningKeys, 'privateKey' | 'keyId'>;
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
  maxUploadBytes: number;
}

export function createContentServices(deps: ContentServiceDeps): ContentServices {
  const store = createContentStore({ dataDir: deps.dataDir, ...(deps.maxUploadBytes ? { maxBytes: deps.maxUploadBytes } : {}) });
  const clock = deps.now ? { now: deps.now } : {};
  return {
    db: deps.db,
    store,
    workflow: createWorkflow({ db: deps.db, audit: deps.audit, ...clock }),
    distribution: createDistribution({ db: deps.db, keys: deps.keys, notifyManifest: deps.notifyManifest, ...clock }),
    maxUploadBytes: deps.maxUploadBytes ?? 2 * 1024 ** 3,
  };
}
