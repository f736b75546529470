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

function archCheck(who: string, arch: string, version: string): string {
  return `${ARCH_OF_MACHINE}
if [ "$here_arch" != "${arch}" ]; then
  echo "${who}: kiosk release ${version} is built for ${arch}, this machine is $here_arch; build the release on a $here_arch machine (npm run release)" >&2
  exit 3
fi`;
}

/** `bin/<name>`: checks the CPU, then runs `<script>` of this slot with the slot's own Node. */
export function binWrapper(name: string, script: string, arch: string, version: string): string {
  return `#!/bin/sh
# ${name} of kiosk release ${version} (${arch}): runs ${script} with the Node bundled in this release (docs/agent.md).
set -eu
slot="$(cd "$(dirname "$0")/.." && pwd -P)"
${archCheck(name, arch, version)}
exec "$slot/runtime/node" "$slot/${script}" "$@"
`;
}

/** The installer header is padded to this size: the gzip tar payload starts at byte HEADER_BYTES + 1. */
export const HEADER_BYTES = 8192;

/** The head of `install.sh`: arch check, payload check, unpack with the system tar, run the bundled installer. */
export function installerHeader(opts: { arch: string; version: string; payloadSha256: string; payloadBytes: number }): string {
  const text = `#!/bin/sh
# Border kiosk release ${opts.version} for linux-${opts.arch}: one-file offline installer (docs/agent.md).
#   sh install.sh [--prefix DIR] [--no-system] [--server URL] [--expect-root KEY_ID]
# A POSIX sh header, then a gzip tar payload (the release slot and its signed release.json) from byte ${HEADER_BYTES + 1}.
# It needs no network: tar, tail and mktemp of the base system, and the Node inside the payload.
set -eu
${archCheck('install.sh', opts.arch, opts.version)}
self="$0"
tmp="$(mktemp -d "\${TMPDIR:-/tmp}/kiosk-install.XXXXXX")"
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
"$tmp/runtime/node" "$tmp/installer/install.mjs" --from "$tmp" "$@"
exit 0
`;
  const bytes = Buffer.byteLength(text);
  if (bytes > HEADER_BYTES - 2) throw new Error(`installer header is ${bytes} bytes, more than ${HEADER_BYTES - 2}`);
  // Padding: a comment line of `#` up to the payload, then a newline the shell never reaches (it exits before).
  return `${text}#${'#'.repeat(HEADER_BYTES - bytes - 2)}\n`;
}
