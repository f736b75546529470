/**
 * The kiosk's boot guard (Mender's commit/rollback, played by a shell script): `ROOT/bin/kiosk-boot` is what the
 * service manager starts, every time. It lives outside the release slots and is plain POSIX sh, so nothing a release
 * brings (a broken agent, a broken runtime) can stop it from working. While an update is pending (not yet committed
 * by the new version, `update/pending`), it counts the starts of the new slot; once the new version has started more
 * than `KIOSK_MAX_BOOTS` times without committing, or when the new version asked for it (`update/result` written
 * because it could not prove itself in time), it points `current` back at the previous slot. Then it runs
 * `current/bin/kiosk-agent`. Every write is a rename (atomic) followed by `sync`, so a power cut at any moment leaves
 * `current` at the old slot or the new one, both complete.
 */
import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';

export const MAX_BOOTS = 3;

export const BOOT_GUARD = `#!/bin/sh
# kiosk-boot: written by the kiosk agent (agent/updater-boot.ts); do not edit. docs/releases.md.
R="\${KIOSK_ROOT:-$(dirname "$(dirname "$(readlink -f "$0")")")}"
U="$R/update"
MAX="\${KIOSK_MAX_BOOTS:-${MAX_BOOTS}}"
put() { printf '%s\\n' "$2" > "$U/$1.tmp" && mv -f "$U/$1.tmp" "$U/$1"; }
if [ -f "$U/pending" ]; then
  p=$(cat "$U/pending")
  cur=$(basename "$(readlink "$R/current")")
  if [ "$cur" != "$p" ]; then
    rm -f "$U/pending" "$U/boots"
  else
    b=$(( $(cat "$U/boots" 2>/dev/null || echo 0) + 1 ))
    put boots "$b"
    sync
    if [ -f "$U/result" ] || [ "$b" -gt "$MAX" ]; then
      [ -f "$U/result" ] || put result "$p
started $((b - 1)) times without proving itself (it exits or hangs at start)"
      prev=$(cat "$U/previous")
      ln -sfn "releases/$prev" "$R/current.next" && mv -Tf "$R/current.next" "$R/current"
      rm -f "$U/pending" "$U/boots"
      sync
    fi
  fi
fi
export KIOSK_ROOT="$R"
exec "$R/current/bin/kiosk-agent" "$@"
`;

/** Writes the guard to `ROOT/bin/kiosk-boot` when it is missing or differs (atomic; 0755). */
export async function ensureBootGuard(root: string): Promise<boolean> {
  const path = join(root, 'bin', 'kiosk-boot');
  const held = await readFile(path, 'utf8').catch(() => null);
  if (held === BOOT_GUARD) return false;
  await mkdir(join(root, 'bin'), { recursive: true });
  const tmp = `${path}.tmp`;
  const fh = await open(tmp, 'w', 0o755);
  try {
    await fh.chmod(0o755);
    await fh.writeFile(BOOT_GUARD);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
  return true;
}
