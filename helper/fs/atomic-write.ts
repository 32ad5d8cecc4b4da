import { randomBytes } from 'node:crypto';
import { closeSync, fchmodSync, fchownSync, fsyncSync, writeSync } from 'node:fs';
import { fsyncDirectory, openFileAt, renameAt, unlinkAt } from '../../native';
import type { TrustedDirectory } from './trusted-directory';

export interface WriteOptions {
  mode: number;
  uid?: number;
  gid?: number;
}

/** A fresh, unguessable temp name; a planted file or link at it makes create-exclusive fail, never redirect us. */
function tempName(name: string): string {
  return `.${name}.berth-${randomBytes(8).toString('hex')}`;
}

/**
 * Replaces `name` in `dir` with `content`, atomically: a temp file created
 * O_EXCL|O_NOFOLLOW in the same directory, owner and mode set, fsync, rename
 * over the old name (rename replaces a symlink itself, never its target),
 * fsync the directory. Readers see the old file or the new one, never a mix.
 */
export function writeFileAtomically(dir: TrustedDirectory, name: string, content: Buffer, options: WriteOptions): void {
  let temp = tempName(name);
  let fd: number | undefined;
  for (let attempt = 0; fd === undefined; attempt++) {
    try {
      fd = openFileAt(dir.fd, temp, 'create-exclusive', 0o600);
    } catch (error) {
      if ((error as { code?: string }).code !== 'EEXIST' || attempt >= 3) throw error;
      temp = tempName(name);
    }
  }
  try {
    let written = 0;
    while (written < content.length) written += writeSync(fd, content, written);
    fchownSync(fd, options.uid ?? 0, options.gid ?? 0);
    fchmodSync(fd, options.mode);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameAt(dir.fd, temp, name);
  } catch (error) {
    if (fd !== undefined) closeSync(fd);
    try {
      unlinkAt(dir.fd, temp);
    } catch {
      // Already renamed or never created.
    }
    throw error;
  }
  fsyncDirectory(dir.fd);
}
