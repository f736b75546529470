/**
 * A kiosk release (DESIGN §10): everything a kiosk runs — the built agent, the kiosk page, the native SQLite binding,
 * the Node runtime, the systemd units — listed file by file with sha256, and signed through the trust chain of §7:
 * a release is signed by a signing key that is current in the keys document the kiosk holds (root → keys document →
 * signing key), over the canonical JSON of `release` exactly as the builder wrote it. Every object is loose: a field
 * this version does not know is kept, because the signature covers it (forward compatibility, §7).
 */
import { z } from 'zod';
import { Sha256Hex } from './domain.js';
import { verifyCanonical } from './ed25519.js';
import { checkKeysDocument, type KeysCheck, lookupKey, SignedKeysDocument, type Trust } from './keys.js';

type KeysIssue = Extract<KeysCheck, { ok: false }>;

export const RELEASE_FORMAT = 'kiosk-release' as const;

/** The file inside a release slot (and at the top of the installer's payload) that holds the signed envelope. */
export const RELEASE_MANIFEST_FILE = 'release.json';

/** Semantic version (`1.4.0`, `1.5.0-rc.1`); the agent reports it as its version. */
export const ReleaseVersion = z
  .string()
  .max(64)
  .regex(/^\d{1,9}\.\d{1,9}\.\d{1,9}(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$/, 'must be a semantic version like 1.4.0');

/** CPU architecture as Node's `process.arch` names it. */
export const ReleaseArch = z.enum(['x64', 'arm64', 'arm', 'ia32']);
export type ReleaseArch = z.infer<typeof ReleaseArch>;

/**
 * A path inside the release: relative, `/`-separated, no `.`/`..` segment, no empty segment, no backslash, so it can
 * never leave the slot it is installed into.
 */
export const ReleasePath = z
  .string()
  .min(1)
  .max(300)
  .regex(/^[A-Za-z0-9._@+-]+(\/[A-Za-z0-9._@+-]+)*$/, 'must be a relative path of letters, digits and ._@+-')
  .refine((p) => !p.split('/').some((s) => s === '.' || s === '..'), 'must not contain "." or ".." segments')
  .refine((p) => p !== RELEASE_MANIFEST_FILE, `${RELEASE_MANIFEST_FILE} is the envelope, not a listed file`);

export const ReleaseFile = z.looseObject({
  path: ReleasePath,
  sha256: Sha256Hex,
  size: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  /** Unix permission bits, e.g. 0o755 = 493 for executables, 0o644 = 420 otherwise. */
  mode: z.number().int().min(0).max(0o777),
});
export type ReleaseFile = z.infer<typeof ReleaseFile>;

export const ReleaseRuntime = z.looseObject({
  name: z.literal('node'),
  /** `process.versions.node` of the bundled binary, e.g. `20.20.2`. */
  version: z.string().regex(/^\d+\.\d+\.\d+$/),
  /** `process.versions.modules`: the native ABI the SQLite binding was built for, e.g. `115`. */
  modules: z.string().regex(/^\d{1,4}$/),
});
export type ReleaseRuntime = z.infer<typeof ReleaseRuntime>;

export const ReleaseManifest = z.looseObject({
  v: z.literal(1),
  format: z.literal(RELEASE_FORMAT),
  version: ReleaseVersion,
  platform: z.literal('linux'),
  arch: ReleaseArch,
  runtime: ReleaseRuntime,
  /** Relative paths (in `files`) of what a kiosk starts. */
  entryPoints: z.looseObject({
    /** The bundled Node binary. */
    node: ReleasePath,
    /** The agent (ESM JavaScript, run by `node`). */
    agent: ReleasePath,
    /** Shell wrapper that checks arch and runtime, then runs `node agent`; systemd's ExecStart. */
    agentLauncher: ReleasePath,
    /** The Chromium kiosk launcher. */
    browserLauncher: ReleasePath,
    /** The first-install / slot installer (ESM JavaScript, run by `node`). */
    installer: ReleasePath,
  }),
  /** Every file of the release, sorted by path, each path once. */
  files: z
    .array(ReleaseFile)
    .min(1)
    .max(20_000)
    .refine(
      (files) => files.every((f, i) => i === 0 || (files[i - 1] as ReleaseFile).path < f.path),
      'files must be sorted by path, each once',
    ),
  createdAt: z.iso.datetime({ offset: true }),
  /** What the release was built from (informative): hash of the source tree, git commit if known. */
  source: z.looseObject({ treeHash: Sha256Hex, commit: z.string().max(64).nullable() }).optional(),
});
export type ReleaseManifest = z.infer<typeof ReleaseManifest>;

export const SignedRelease = z.looseObject({
  release: ReleaseManifest,
  /** The signing key that made `signature`; it must be current in the keys document the verifier trusts. */
  keyId: z.string().min(1).max(128),
  /** The builder's newest root-signed keys document (a kiosk takes it if newer than its own, as with manifests). */
  keys: SignedKeysDocument,
  /**
   * SPKI PEM of the root that signed `keys`. Only a first install uses it (trust bootstrap: the key set in the file the
   * technician copied); an enrolled kiosk ignores it and checks `keys` against the root it pinned at enrollment.
   */
  rootKey: z.string().max(1000).includes('BEGIN PUBLIC KEY'),
  /** Base64 Ed25519 signature over canonicalJson(release), `release` as the builder wrote it. */
  signature: z
    .string()
    .regex(/^[A-Za-z0-9+/]+={0,2}$/)
    .max(200),
});
export type SignedRelease = z.infer<typeof SignedRelease>;

export const RELEASE_REJECTIONS = [
  'malformed',
  'keys_rejected',
  'keys_expired',
  'key_unknown',
  'key_retired',
  'bad_signature',
  'wrong_arch',
  'wrong_runtime',
  'wrong_platform',
] as const;
export type ReleaseRejection = (typeof RELEASE_REJECTIONS)[number];

export type ReleaseCheck =
  | { ok: true; signed: SignedRelease; keys: SignedKeysDocument | null; keysIssue: KeysIssue | null }
  | { ok: false; reason: ReleaseRejection; message: string; keys: SignedKeysDocument | null; keysIssue: KeysIssue | null };

/** Where the release will run; `runtime` null = it brings its own (checked at start by the launcher instead). */
export interface ReleaseTarget {
  platform: string;
  arch: string;
  /** The Node that will load the native binding: its `process.versions.modules`; null = the bundled one. */
  modules: string | null;
}

/** This machine, as seen by the running Node. */
export function currentTarget(): ReleaseTarget {
  return { platform: process.platform, arch: process.arch, modules: process.versions.modules ?? null };
}

/** The one sentence that says why a release cannot run here, or null when it can. */
export function targetMismatch(
  release: ReleaseManifest,
  target: ReleaseTarget,
): { reason: ReleaseRejection; message: string } | null {
  if (target.platform !== release.platform) {
    return {
      reason: 'wrong_platform',
      message: `release ${release.version} is for ${release.platform}, this machine runs ${target.platform}`,
    };
  }
  if (target.arch !== release.arch) {
    return {
      reason: 'wrong_arch',
      message: `release ${release.version} is built for ${release.arch}, this kiosk is ${target.arch}: build the release on a ${target.arch} machine`,
    };
  }
  if (target.modules !== null && target.modules !== release.runtime.modules) {
    return {
      reason: 'wrong_runtime',
      message: `release ${release.version} needs Node ${release.runtime.version} (native ABI ${release.runtime.modules}), this Node has ABI ${target.modules}: start it with the bundled ${release.entryPoints.node}`,
    };
  }
  return null;
}

/**
 * The whole acceptance check of a release envelope (as received, JSON.parse output): shape; the carried keys document
 * (signed by the trusted root, not older than the one held — as for manifests, §7); the release's key current in the
 * newest keys document; the signature over the bytes received; then the target (arch, runtime). File hashes are the
 * caller's to check against `release.files` (they are on disk, not in the envelope).
 */
export function checkRelease(input: unknown, expect: { trust: Trust; target: ReleaseTarget; now?: Date }): ReleaseCheck {
  const now = expect.now ?? new Date();
  let trust = expect.trust;
  let keys: SignedKeysDocument | null = null;
  let keysIssue: KeysIssue | null = null;
  const no = (reason: ReleaseRejection, message: string): ReleaseCheck => ({ ok: false, reason, message, keys, keysIssue });
  const parsed = SignedRelease.safeParse(input);
  if (!parsed.success) return no('malformed', `release manifest is malformed: ${parsed.error.message}`);
  const signed = parsed.data;
  const raw = input as { release: unknown; keys: unknown };
  const k = checkKeysDocument(raw.keys, trust, now);
  if (!k.ok) {
    keysIssue = k;
    // A kiosk holding a newer keys document may still accept the release under that one (rollback of the carried copy).
    if (k.reason !== 'keys_rollback' || !trust.document) return no('keys_rejected', `release keys: ${k.message}`);
  } else if (k.newer) {
    keys = k.signed;
    trust = { ...trust, document: k.signed };
  }
  if (trust.document && Date.parse(trust.document.document.expiresAt) < now.getTime()) {
    return no(
      'keys_expired',
      `the keys document (version ${trust.document.document.version}) expired on ${trust.document.document.expiresAt}`,
    );
  }
  const key = lookupKey(trust, signed.keyId);
  const where = trust.document ? `keys document ${trust.document.document.version}` : 'the enrolled key';
  if (key.status === 'unknown')
    return no('key_unknown', `release ${signed.release.version} is signed by ${signed.keyId}, which ${where} does not list`);
  if (key.status === 'retired') {
    return no('key_retired', `release ${signed.release.version} is signed by ${signed.keyId}, retired in ${where}`);
  }
  if (!verifyCanonical(raw.release, signed.signature, key.publicKey)) {
    return no('bad_signature', `release ${signed.release.version}: signature does not verify (key ${signed.keyId})`);
  }
  const mismatch = targetMismatch(signed.release, expect.target);
  if (mismatch) return no(mismatch.reason, mismatch.message);
  return { ok: true, signed, keys, keysIssue };
}

/** The trust a first install bootstraps from the file itself: the root the envelope names, nothing held yet. */
export function bootstrapTrust(signed: Pick<SignedRelease, 'rootKey'>): Trust {
  return { rootKey: signed.rootKey, document: null, enrolledKey: null };
}

/** Orders release versions by semver precedence (negative: a before b). Build metadata is ignored. */
export function compareReleaseVersions(a: string, b: string): number {
  const parse = (v: string) => {
    const [core = '', pre] = (v.split('+')[0] as string).split(/-(.*)/s);
    return { nums: core.split('.').map(Number), pre: pre === undefined ? null : pre.split('.') };
  };
  const x = parse(a);
  const y = parse(b);
  for (let i = 0; i < 3; i++) {
    const d = (x.nums[i] ?? 0) - (y.nums[i] ?? 0);
    if (d !== 0) return Math.sign(d);
  }
  if (x.pre === null || y.pre === null) return x.pre === y.pre ? 0 : x.pre === null ? 1 : -1;
  for (let i = 0; i < Math.max(x.pre.length, y.pre.length); i++) {
    const p = x.pre[i];
    const q = y.pre[i];
    if (p === undefined) return -1;
    if (q === undefined) return 1;
    if (p === q) continue;
    const pn = /^\d+$/.test(p);
    const qn = /^\d+$/.test(q);
    if (pn && qn) return Math.sign(Number(p) - Number(q));
    if (pn !== qn) return pn ? -1 : 1;
    return p < q ? -1 : 1;
  }
  return 0;
}
