import { randomBytes } from 'node:crypto';
import { closeSync, fchmodSync, fchownSync, fsyncSync, writeSync } from 'node:fs';
import { fsyncDirectory, openFileAt, renameAt, statAt, unlinkAt, type FileStat } from '../../native';
import { errnoCode } from '../../common/errno';
import type { TrustedDirectory } from '../../common/fs/trusted-directory';

export interface WriteOptions {
  mode: number;
  uid?: number;
  gid?: number;
  /** Temp names to try; production uses random ones (tests plant files at chosen names). */
  tempName?: (name: string) => string;
}

/** New temp names to try when one is taken (something planted there, or a crash's leftover). */
const MAX_TEMP_NAMES = 3;

/** Unguessable, so nobody can plant a link at the name in advance (and O_EXCL refuses one anyway). */
export function randomTempName(name: string): string {
  return `.${name}.berth-${randomBytes(8).toString('hex')}`;
}

export function writeAll(fd: number, content: Buffer): void {
  let written = 0;
  while (written < content.length) written += writeSync(fd, content, written);
}

export function unlinkQuietly(dir: TrustedDirectory, name: string): void {
  try {
    unlinkAt(dir.fd, name);
  } catch {
    // Already renamed into place or never created; nothing of ours is left.
  }
}

/**
 * Writes `content` to a new temp file beside `name` — created O_EXCL|O_NOFOLLOW,
 * so a file or link planted at the temp name makes it fail, never redirects the
 * write — with owner and mode set and fsynced. Returns the temp's name; the
 * caller renames it into place or unlinks it.
 */
export function writeTempFile(dir: TrustedDirectory, name: string, content: Buffer, options: WriteOptions): string {
  const makeName = options.tempName ?? randomTempName;
  let temp = makeName(name);
  let fd: number | undefined;
  for (let tries = 1; fd === undefined; tries++) {
    try {
      fd = openFileAt(dir.fd, temp, 'create-exclusive', 0o600);
    } catch (error) {
      if (errnoCode(error) !== 'EEXIST' || tries >= MAX_TEMP_NAMES) throw error;
      temp = makeName(name);
    }
  }
  try {
    writeAll(fd, content);
    // Owner before mode: chown clears setuid/setgid bits, chmod then sets what we want.
    fchownSync(fd, options.uid ?? 0, options.gid ?? 0);
    fchmodSync(fd, options.mode);
    // Durable before it becomes visible under the real name: a crash after the rename must not leave an empty file.
    fsyncSync(fd);
  } catch (error) {
    closeSync(fd);
    unlinkQuietly(dir, temp);
    throw error;
  }
  closeSync(fd);
  return temp;
}

/**
 * Replaces `name` in `dir` with `content`, atomically: a temp file (see
 * writeTempFile), renamed over the old name (rename replaces a symlink itself,
 * never its target), then the directory fsynced. Readers see the old file or
 * the new one, never a mix.
 */
export function writeFileAtomically(dir: TrustedDirectory, name: string, content: Buffer, options: WriteOptions): void {
  const temp = writeTempFile(dir, name, content, options);
  try {
    renameAt(dir.fd, temp, name);
  } catch (error) {
    unlinkQuietly(dir, temp);
    throw error;
  }
  fsyncDirectory(dir.fd);
}

/** Same inode, size and mtime (or both absent): nobody replaced or wrote the file since it was looked at. */
export function sameFile(a: FileStat | null, b: FileStat | null): boolean {
  if (a === null || b === null) return a === b;
  return a.ino === b.ino && a.dev === b.dev && a.size === b.size && a.mtimeMs === b.mtimeMs;
}

/**
 * writeFileAtomically, but only if `name` is still as `seen` (statAt before
 * it was read): returns false, changing nothing, when another writer got
 * there first, so the caller can read again and reapply its change instead
 * of losing the other one (read-change-write by two root processes).
 */
export function replaceIfUnchanged(dir: TrustedDirectory, name: string, content: Buffer, seen: FileStat | null, options: WriteOptions): boolean {
  const temp = writeTempFile(dir, name, content, options);
  try {
    if (!sameFile(seen, statAt(dir.fd, name))) {
      unlinkQuietly(dir, temp);
      return false;
    }
    renameAt(dir.fd, temp, name);
  } catch (error) {
    unlinkQuietly(dir, temp);
    throw error;
  }
  fsyncDirectory(dir.fd);
  return true;
}
