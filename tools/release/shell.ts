/**
 * The shell parts of a release: the arch check (in POSIX sh, because the bundled Node cannot even start on another
 * CPU), the `bin/` wrappers and the self-extracting installer's header.
 */

/** Sets `here_arch` to this machine's CPU as Node's `process.arch` names it (the one mapping, used by every script). */
const ARCH_OF_MACHINE = `case "$(uname -m)" in
  x86_64 | amd64) here_arch=x64 ;;
  aarch64 | arm64) here_arch=arm64 ;;
  armv6l | armv7l | armv8l) here_arch=arm ;;
  i386 | i486 | i586 | i686) here_arch=ia32 ;;
  *) here_arch="$(uname -m)" ;;
esac`;

/** What a release is of: the kiosk's (default) or the server's (tools/release-server/). */
export interface ReleaseProduct {
  /** `kiosk release`, `fleet server release` */
  what: string;
  /** The npm script that builds it. */
  buildCommand: string;
  /** Title line of the installer. */
  title: string;
  /** The installer's usage line. */
  usage: string;
  /** Where the people who install it read about it. */
  doc: string;
  /** The unpacked payload's folder name prefix. */
  tmpPrefix: string;
  /** The installer script inside the payload. */
  installerScript: string;
}

export const KIOSK_PRODUCT: ReleaseProduct = {
  what: 'kiosk release',
  buildCommand: 'npm run release',
  title: 'Border kiosk release',
  usage: 'sh install.sh [--prefix DIR] [--no-system] [--server URL] [--expect-root KEY_ID]',
  doc: 'docs/agent.md',
  tmpPrefix: 'kiosk-install',
  installerScript: 'installer/install.mjs',
};

function archCheck(who: string, arch: string, version: string, product: ReleaseProduct = KIOSK_PRODUCT): string {
  return `${ARCH_OF_MACHINE}
if [ "$here_arch" != "${arch}" ]; then
  echo "${who}: ${product.what} ${version} is built for ${arch}, this machine is $here_arch; build the release on a $here_arch machine (${product.buildCommand})" >&2
  exit 3
fi`;
}

/**
 * V8 flags of the kiosk agent's Node (bin/kiosk-agent; docs/performance.md "Agent RSS"): a 1 MiB young-generation
 * semi-space instead of V8's 16 MiB (the agent allocates little and keeps less: idle RSS about 13 MiB lower), and one
 * V8 worker thread instead of one per core. Flags, not NODE_OPTIONS: Node refuses V8 flags there.
 */
export const AGENT_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=1', '--v8-pool-size=1'];

/**
 * glibc's malloc for the agent: a fixed trim threshold (128 KiB, glibc's default start value) turns off its dynamic
 * mmap threshold, so the ~35 MB V8 mallocs and frees while compiling the bundle at start goes back to the system
 * instead of staying in the heap (idle RSS otherwise lands 8 MiB higher in some runs; docs/performance.md).
 */
export const AGENT_RUNTIME_ENV: Readonly<Record<string, string>> = { MALLOC_TRIM_THRESHOLD_: '131072' };

/** `bin/<name>`: checks the CPU, then runs `<script>` of this slot with the slot's own Node (`nodeFlags`, `env`). */
export function binWrapper(
  name: string,
  script: string,
  arch: string,
  version: string,
  product: ReleaseProduct = KIOSK_PRODUCT,
  nodeFlags: readonly string[] = [],
  env: Readonly<Record<string, string>> = {},
): string {
  const flags = nodeFlags.map((f) => `${f} `).join('');
  const exports = Object.entries(env)
    .map(([k, v]) => `export ${k}=${v}\n`)
    .join('');
  return `#!/bin/sh
# ${name} of ${product.what} ${version} (${arch}): runs ${script} with the Node bundled in this release (${product.doc}).
set -eu
slot="$(cd "$(dirname "$0")/.." && pwd -P)"
${archCheck(name, arch, version, product)}
${exports}exec "$slot/runtime/node" ${flags}"$slot/${script}" "$@"
`;
}

/** The installer header is padded to this size: the gzip tar payload starts at byte HEADER_BYTES + 1. */
export const HEADER_BYTES = 8192;

/** The head of `install.sh`: arch check, payload check, unpack with the system tar, run the bundled installer. */
export function installerHeader(opts: {
  arch: string;
  version: string;
  payloadSha256: string;
  payloadBytes: number;
  product?: ReleaseProduct;
}): string {
  const product = opts.product ?? KIOSK_PRODUCT;
  const text = `#!/bin/sh
# ${product.title} ${opts.version} for linux-${opts.arch}: one-file offline installer (${product.doc}).
#   ${product.usage}
# A POSIX sh header, then a gzip tar payload (the release slot and its signed release.json) from byte ${HEADER_BYTES + 1}.
# It needs no network: tar, tail and mktemp of the base system, and the Node inside the payload.
set -eu
${archCheck('install.sh', opts.arch, opts.version, product)}
self="$0"
tmp="$(mktemp -d "\${TMPDIR:-/tmp}/${product.tmpPrefix}.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM
size=$(wc -c < "$self" | tr -d ' ')
if [ "$size" -ne ${HEADER_BYTES + opts.payloadBytes} ]; then
  echo "install.sh: this file has $size bytes, it should have ${HEADER_BYTES + opts.payloadBytes}: it was cut or changed while copied; copy it again" >&2
  exit 4
fi
if command -v sha256sum >/dev/null 2>&1; then
  sum=$(tail -c +${HEADER_BYTES + 1} "$self" | sha256sum | cut -d ' ' -f 1)
  if [ "$sum" != "${opts.payloadSha256}" ]; then
    echo "install.sh: the payload does not match its sha256: the file was damaged while copied; copy it again" >&2
    exit 4
  fi
fi
tail -c +${HEADER_BYTES + 1} "$self" | tar -xzf - -C "$tmp"
"$tmp/runtime/node" "$tmp/${product.installerScript}" --from "$tmp" "$@"
exit 0
`;
  const bytes = Buffer.byteLength(text);
  if (bytes > HEADER_BYTES - 2) throw new Error(`installer header is ${bytes} bytes, more than ${HEADER_BYTES - 2}`);
  // Padding: a comment line of `#` up to the payload, then a newline the shell never reaches (it exits before).
  return `${text}#${'#'.repeat(HEADER_BYTES - bytes - 2)}\n`;
}
