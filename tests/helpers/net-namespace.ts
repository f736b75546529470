/** For the install tests that cut the network (`unshare -n`), which need root and a kernel that allows it. */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

/** Whether this process can run a command in a new network namespace (`unshare -n`): root, and it works. */
export async function canUnshare(): Promise<boolean> {
  if (process.getuid?.() !== 0) return false;
  return promisify(execFile)('unshare', ['-n', 'true']).then(
    () => true,
    () => false,
  );
}
