/**
 * The server's manifest keys (DESIGN §7, §9), TUF's root → targets idea. A root key signs a versioned keys
 * document that lists the signing keys (current, retired); the current signing key signs manifests, and every
 * manifest carries the newest keys document, so a kiosk follows a rotation with its next sync.
 *
 * On disk, under DATA_DIR, PKCS#8 PEM readable only by the server's user:
 * - `manifest-signing-key.pem`: the first signing key (before keys documents, the only key; kiosks enrolled then
 *   pinned it, so on such an installation it is also the root);
 * - `keys/root-key.pem`: the root of a new installation. It is read only when a keys document is signed, so the
 *   department may move it off the server (offline root) and sign with `kiosk-provision keys sign` instead;
 * - `keys/signing-<hex>.pem`: signing keys made by rotations.
 * The keys documents themselves are rows of `content_keys_documents`.
 */
import { createPrivateKey, generateKeyPairSync, type KeyObject, X509Certificate } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  checkKeysDocument,
  KEYS_DOCUMENT_LIFETIME_MS,
  type KeyEntry,
  type KeysDocument,
  SignedKeysDocument,
  type SigningKeys,
  signingKeysFrom,
  signKeysDocument,
} from '../../protocol/index.js';
import type { AuditFn } from '../auth/audit.js';
import type { Database } from '../db/open-database.js';
import { DomainError } from '../errors.js';

export const SIGNING_KEY_FILE = 'manifest-signing-key.pem';
export const KEYS_DIR = 'keys';
export const ROOT_KEY_FILE = 'root-key.pem';
/** Retired keys a keys document keeps listing; older ones drop out (and stay refused: unknown is refused too). */
export const MAX_RETIRED_KEYS = 20;

export const signingKeyFile = (keyId: string): string => `signing-${keyId.replace(/[^0-9a-f]/g, '')}.pem`;

export async function loadOrCreateSigningKeys(dataDir: string): Promise<SigningKeys> {
  const file = join(dataDir, SIGNING_KEY_FILE);
  try {
    return signingKeysFrom(createPrivateKey(await readFile(file, 'utf8')));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  await mkdir(dataDir, { recursive: true });
  const { privateKey } = generateKeyPairSync('ed25519');
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  try {
    // 'wx': if another process created the key meanwhile, keep theirs rather than replace it.
    await writeFile(file, pem, { mode: 0o600, flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    return signingKeysFrom(createPrivateKey(await readFile(file, 'utf8')));
  }
  // The umask may have narrowed the mode further but cannot have widened it; make it exactly 0600.
  await chmod(file, 0o600);
  return signingKeysFrom(privateKey);
}

/** Writes a new private key file, 0600, never over an existing one. */
function writeKeyFile(file: string, privateKey: KeyObject): void {
  writeFileSync(file, privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), { mode: 0o600, flag: 'wx' });
  chmodSync(file, 0o600);
}

function readKeyFile(file: string): KeyObject | null {
  try {
    return createPrivateKey(readFileSync(file, 'utf8'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

interface DocumentRow {
  version: number;
  root_key_id: string;
  root_public_key: string;
  signed: string;
  created_at: number;
  created_by: string;
}

/** What enrollment hands a new kiosk: the root to pin and the signing key current now (read from the database). */
export function enrollmentKeys(db: Database): { rootKey: string; manifestKey: string } | null {
  const row = db.prepare('SELECT * FROM content_keys_documents ORDER BY version DESC LIMIT 1').get() as DocumentRow | undefined;
  if (!row) return null;
  const signed = SignedKeysDocument.parse(JSON.parse(row.signed));
  return { rootKey: row.root_public_key, manifestKey: currentEntry(signed.document).publicKey };
}

/** The current key manifests are signed with: the newest current entry. */
function currentEntry(document: KeysDocument): KeyEntry {
  const current = document.keys.filter((k) => k.status === 'current');
  return current[current.length - 1] as KeyEntry;
}

/** One CA of the keys document's `tlsCas`, and how many kiosks already hold a document listing it. */
export interface TlsCaStatus {
  fingerprint: string;
  subject: string;
  notAfter: string;
  /** The oldest keys document version from which on every document lists this CA. */
  since: number;
  /** Enrolled kiosks (not decommissioned) whose last `status` said they hold version `since` or newer. */
  devicesHolding: number;
}

export interface KeysStatus {
  root: { keyId: string; publicKey: string; online: boolean };
  signingKeyId: string;
  document: SignedKeysDocument;
  /** The CAs kiosks are told to trust for the server's TLS; empty = the keys document names none (enrollment CA). */
  tlsCas: TlsCaStatus[];
  /** Enrolled kiosks not decommissioned, and how many of them have said which keys document they hold. */
  devices: { total: number; reporting: number };
  history: Array<{ version: number; createdAt: string; createdBy: string }>;
}

export interface Keyring {
  /** The signing key in force and the keys document that lists it, renewed first when the root is online and half its life passed. */
  signer(): { keys: Pick<SigningKeys, 'privateKey' | 'keyId'>; document: SignedKeysDocument };
  status(): KeysStatus;
  /** Makes a new signing key (its private half stays here) and returns the next keys document, unsigned, for an offline root. */
  prepare(by: string): KeysDocument;
  /** Puts a root-signed keys document in force (from `prepare` and an offline signature). */
  publish(input: unknown, by: string): SignedKeysDocument;
  /** prepare + sign with the root held here + publish: a new current key, every other one retired. */
  rotate(by: string): SignedKeysDocument;
  /**
   * The next keys document with `tlsCas` = `cas` (PEM CA certificates), the signing keys unchanged; signed by the
   * root held here and published. Without a root here, `{ document }` unsigned, for `keys sign` + `keys publish`.
   */
  setTlsCas(cas: string[], by: string): { signed: SignedKeysDocument } | { document: KeysDocument };
}

/** Checks CA certificates for `tlsCas`: readable, CA, not expired; returns them trimmed, without duplicates. */
export function checkTlsCas(cas: unknown, now: number): string[] {
  if (!Array.isArray(cas) || cas.length === 0 || cas.length > 8) {
    throw new DomainError(422, 'tls_cas_invalid', 'tlsCas must list 1 to 8 CA certificates (PEM)');
  }
  const out: string[] = [];
  const seen = new Set<string>();
  for (const pem of cas) {
    let cert: X509Certificate;
    try {
      if (typeof pem !== 'string' || (pem.match(/BEGIN CERTIFICATE/g) ?? []).length !== 1)
        throw new Error('not one PEM certificate');
      cert = new X509Certificate(pem);
    } catch (error) {
      throw new DomainError(
        422,
        'tls_cas_invalid',
        `a tlsCas entry is not one readable PEM certificate: ${(error as Error).message}`,
      );
    }
    if (!cert.ca) throw new DomainError(422, 'tls_cas_invalid', `${cert.subject} is not a CA certificate`);
    if (Date.parse(cert.validTo) <= now)
      throw new DomainError(422, 'tls_cas_invalid', `${cert.subject} expired on ${cert.validTo}`);
    if (seen.has(cert.fingerprint256)) continue;
    seen.add(cert.fingerprint256);
    out.push(`${pem.trim()}\n`);
  }
  return out;
}

export const rootOffline = () =>
  new DomainError(
    409,
    'root_key_offline',
    'the root key is not on this server; run `kiosk-provision keys prepare`, sign the file with `keys sign` where the root key is kept, then `keys publish`',
  );

/**
 * Opens (and on first use, creates) the keyring. `initial` is `loadOrCreateSigningKeys(DATA_DIR)`: the first
 * signing key. When devices were enrolled before keys documents existed, they pinned that key, so it becomes
 * the root too; otherwise a separate root is made.
 */
export function openKeyring(deps: {
  db: Database;
  dataDir: string;
  initial: SigningKeys;
  audit?: AuditFn;
  now?: () => number;
  lifetimeMs?: number;
}): Keyring {
  const { db, initial } = deps;
  const now = deps.now ?? Date.now;
  const lifetime = deps.lifetimeMs ?? KEYS_DOCUMENT_LIFETIME_MS;
  const keysDir = join(deps.dataDir, KEYS_DIR);
  mkdirSync(keysDir, { recursive: true, mode: 0o700 });
  const latestRow = () =>
    db.prepare('SELECT * FROM content_keys_documents ORDER BY version DESC LIMIT 1').get() as DocumentRow | undefined;

  const iso = (ms: number) => new Date(ms).toISOString();
  function insert(signed: SignedKeysDocument, root: { keyId: string; pem: string }, by: string): void {
    db.prepare(
      `INSERT INTO content_keys_documents (version, root_key_id, root_public_key, signed, created_at, created_by)
       VALUES (?, ?, ?, ?, ?, ?)`,
    ).run(signed.document.version, root.keyId, root.pem, JSON.stringify(signed), now(), by);
  }

  if (!latestRow()) {
    // Kiosks enrolled before keys documents pinned `initial` as their only key: it must be their root.
    const legacy = db.prepare(`SELECT 1 FROM devices WHERE status <> 'registered' LIMIT 1`).get() !== undefined;
    let root: SigningKeys = initial;
    if (!legacy) {
      const file = join(keysDir, ROOT_KEY_FILE);
      const existing = readKeyFile(file);
      if (existing) root = signingKeysFrom(existing);
      else {
        root = signingKeysFrom(generateKeyPairSync('ed25519').privateKey);
        writeKeyFile(file, root.privateKey);
      }
    }
    const t = now();
    const document: KeysDocument = {
      v: 1,
      version: 1,
      issuedAt: iso(t),
      expiresAt: iso(t + lifetime),
      keys: [{ keyId: initial.keyId, publicKey: initial.publicKeyPem, status: 'current', addedAt: iso(t), retiredAt: null }],
    };
    insert(signKeysDocument(document, root), { keyId: root.keyId, pem: root.publicKeyPem }, 'system');
  }

  const first = latestRow() as DocumentRow;
  const rootPem = first.root_public_key;
  const rootId = first.root_key_id;

  /** The root's private key if it is on this server now (read each time: it may have been moved offline). */
  function rootPrivate(): KeyObject | null {
    for (const file of [join(keysDir, ROOT_KEY_FILE), join(deps.dataDir, SIGNING_KEY_FILE)]) {
      const key = readKeyFile(file);
      if (key && signingKeysFrom(key).keyId === rootId) return key;
    }
    return null;
  }

  const privateKeys = new Map<string, KeyObject>([[initial.keyId, initial.privateKey]]);
  function signingPrivate(keyId: string): KeyObject | null {
    const cached = privateKeys.get(keyId);
    if (cached) return cached;
    const key = readKeyFile(join(keysDir, signingKeyFile(keyId)));
    if (key && signingKeysFrom(key).keyId === keyId) {
      privateKeys.set(keyId, key);
      return key;
    }
    return null;
  }

  let inForce = { signed: SignedKeysDocument.parse(JSON.parse(first.signed)), key: null as KeyObject | null };
  function use(signed: SignedKeysDocument): void {
    const entry = currentEntry(signed.document);
    const key = signingPrivate(entry.keyId);
    if (!key) {
      throw new Error(
        `signing key ${entry.keyId}, current in keys document ${signed.document.version}, has no private key at ${join(keysDir, signingKeyFile(entry.keyId))}`,
      );
    }
    inForce = { signed, key };
  }
  use(inForce.signed);

  /** The next document: `keys`, and the TLS CAs of the one in force unless `tlsCas` is given (a rotation keeps them). */
  function nextDocument(keys: KeyEntry[], tlsCas = inForce.signed.document.tlsCas): KeysDocument {
    const t = now();
    const retired = keys.filter((k) => k.status === 'retired');
    const dropped = new Set(retired.slice(0, Math.max(0, retired.length - MAX_RETIRED_KEYS)).map((k) => k.keyId));
    return {
      v: 1,
      version: inForce.signed.document.version + 1,
      issuedAt: iso(t),
      expiresAt: iso(t + lifetime),
      keys: keys.filter((k) => !dropped.has(k.keyId)),
      ...(tlsCas ? { tlsCas } : {}),
    };
  }

  /** Each CA of the document in force, with the oldest version from which on it has been listed without a gap. */
  function tlsCaStatus(): TlsCaStatus[] {
    const cas = inForce.signed.document.tlsCas ?? [];
    if (cas.length === 0) return [];
    const rows = db.prepare('SELECT version, signed FROM content_keys_documents ORDER BY version DESC').all() as Array<{
      version: number;
      signed: string;
    }>;
    const listed = rows.map((r) => ({
      version: r.version,
      fingerprints: new Set(
        ((JSON.parse(r.signed) as SignedKeysDocument).document.tlsCas ?? []).map(
          (pem) => new X509Certificate(pem).fingerprint256,
        ),
      ),
    }));
    const holding = db.prepare(
      `SELECT count(*) FROM devices WHERE status NOT IN ('registered', 'decommissioned') AND keys_version >= ?`,
    );
    return cas.map((pem) => {
      const cert = new X509Certificate(pem);
      let since = inForce.signed.document.version;
      for (const row of listed) {
        if (row.version > since) continue;
        if (!row.fingerprints.has(cert.fingerprint256)) break;
        since = row.version;
      }
      return {
        fingerprint: cert.fingerprint256,
        subject: cert.subject,
        notAfter: new Date(cert.validTo).toISOString(),
        since,
        devicesHolding: holding.pluck().get(since) as number,
      };
    });
  }

  function publish(input: unknown, by: string): SignedKeysDocument {
    const check = checkKeysDocument(input, { rootKey: rootPem, document: inForce.signed, enrolledKey: null }, new Date(now()));
    if (!check.ok) throw new DomainError(422, check.reason, check.message);
    if (!check.newer)
      throw new DomainError(409, 'keys_rollback', `keys document ${check.signed.document.version} is already in force`);
    for (const entry of check.signed.document.keys) {
      if (entry.status === 'current' && !signingPrivate(entry.keyId)) {
        throw new DomainError(
          422,
          'signing_key_missing',
          `current key ${entry.keyId} has no private key on this server (make new keys with \`keys prepare\`)`,
        );
      }
    }
    // The document exactly as signed: unknown fields stay, so the kiosks verify the same bytes.
    const signed = input as SignedKeysDocument;
    db.transaction(() => insert(signed, { keyId: rootId, pem: rootPem }, by))();
    use(signed);
    deps.audit?.({
      actor: by,
      action: 'keys.publish',
      target: `keys-document:${signed.document.version}`,
      detail: { version: signed.document.version, current: currentEntry(signed.document).keyId },
    });
    return signed;
  }

  function prepare(by: string): KeysDocument {
    const fresh = signingKeysFrom(generateKeyPairSync('ed25519').privateKey);
    writeKeyFile(join(keysDir, signingKeyFile(fresh.keyId)), fresh.privateKey);
    privateKeys.set(fresh.keyId, fresh.privateKey);
    const t = iso(now());
    const keys: KeyEntry[] = inForce.signed.document.keys.map((k) =>
      k.status === 'current' ? { ...k, status: 'retired', retiredAt: t } : k,
    );
    keys.push({ keyId: fresh.keyId, publicKey: fresh.publicKeyPem, status: 'current', addedAt: t, retiredAt: null });
    const document = nextDocument(keys);
    deps.audit?.({
      actor: by,
      action: 'keys.prepare',
      target: `keys-document:${document.version}`,
      detail: { keyId: fresh.keyId },
    });
    return document;
  }

  function signWithRoot(document: KeysDocument): SignedKeysDocument {
    const root = rootPrivate();
    if (!root) throw rootOffline();
    return signKeysDocument(document, { privateKey: root, keyId: rootId });
  }

  let renewTriedAt = Number.NEGATIVE_INFINITY;
  return {
    signer() {
      const t = now();
      // A root kept here renews the document once half its life passed (tried at most once a minute: an
      // offline root is looked for on disk, not on every manifest request).
      if (Date.parse(inForce.signed.document.expiresAt) - t < lifetime / 2 && t - renewTriedAt > 60_000) {
        renewTriedAt = t;
        if (rootPrivate()) publish(signWithRoot(nextDocument(inForce.signed.document.keys)), 'system');
      }
      return {
        keys: { privateKey: inForce.key as KeyObject, keyId: currentEntry(inForce.signed.document).keyId },
        document: inForce.signed,
      };
    },
    status() {
      const history = db
        .prepare('SELECT version, created_at, created_by FROM content_keys_documents ORDER BY version DESC LIMIT 50')
        .all() as Array<{ version: number; created_at: number; created_by: string }>;
      return {
        root: { keyId: rootId, publicKey: rootPem, online: rootPrivate() !== null },
        signingKeyId: currentEntry(inForce.signed.document).keyId,
        document: inForce.signed,
        history: history.map((h) => ({ version: h.version, createdAt: iso(h.created_at), createdBy: h.created_by })),
        tlsCas: tlsCaStatus(),
        devices: db
          .prepare(
            `SELECT count(*) AS total, count(keys_version) AS reporting FROM devices
             WHERE status NOT IN ('registered', 'decommissioned')`,
          )
          .get() as { total: number; reporting: number },
      };
    },
    setTlsCas(cas, by) {
      const document = nextDocument(inForce.signed.document.keys, checkTlsCas(cas, now()));
      deps.audit?.({
        actor: by,
        action: 'keys.tls_cas',
        target: `keys-document:${document.version}`,
        detail: { tlsCas: (document.tlsCas ?? []).map((pem) => new X509Certificate(pem).fingerprint256) },
      });
      if (!rootPrivate()) return { document };
      return { signed: publish(signWithRoot(document), by) };
    },
    prepare,
    publish,
    rotate(by) {
      if (!rootPrivate()) throw rootOffline();
      return publish(signWithRoot(prepare(by)), by);
    },
  };
}
