/** Fills a file system for the disk-full drills (tests and bench/scenarios/field-drills.ts). */
import { closeSync, openSync, writeSync } from 'node:fs';

/**
 * Appends to `path` until the file system has not one byte left (ever smaller writes down to 1 byte); returns the
 * bytes written. At most 64 writes of each size (< 128 MiB in all): meant for a small tmpfs, it cannot fill a real disk.
 */
export function fillToTheLastByte(path: string): number {
  const fd = openSync(path, 'a');
  let written = 0;
  try {
    for (let size = 1 << 20; size >= 1; size >>= 1) {
      const buf = Buffer.alloc(size, 0x5a);
      for (let i = 0; i < 64; i++) {
        try {
          written += writeSync(fd, buf);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
          break;
        }
      }
    }
  } finally {
    closeSync(fd);
  }
  return written;
}
