/** Over-the-air releases' public surface, for the server's composition root. */
export { releaseRoutes } from './release-routes.js';
export { createReleaseService, type ReleaseService } from './releases.js';

import type { AuditFn } from '../auth/audit.js';
import { enrollmentKeys, type Keyring } from '../content/index.js';
import type { Database } from '../db/open-database.js';
import { createReleaseService as create } from './releases.js';

/**
 * The release service of a running server: releases are verified against the server's own trust (its root and the
 * keys document in force), and a kiosk is told to look again through its `manifest` notice (the agent checks its
 * release whenever it checks its manifest).
 */
export function releaseServiceFor(deps: {
  db: Database;
  dataDir: string;
  audit: AuditFn;
  keyring: Keyring;
  notifyManifest: (deviceId: string, seq: number) => void;
}) {
  const { db } = deps;
  const seqOf = db.prepare('SELECT seq FROM device_manifests WHERE device_id = ?').pluck();
  return create({
    db,
    dataDir: deps.dataDir,
    audit: deps.audit,
    trust: () => {
      const { document } = deps.keyring.signer();
      const rootKey = enrollmentKeys(db)?.rootKey;
      if (!rootKey) throw new Error('the server has no keys document yet');
      return { rootKey, document, enrolledKey: null };
    },
    notify: (deviceId) => deps.notifyManifest(deviceId, Number(seqOf.get(deviceId) ?? 0)),
  });
}
