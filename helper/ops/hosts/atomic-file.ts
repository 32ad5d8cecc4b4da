/**
 * Rewrites one root-owned system file (the hosts file) as root, safely:
 * every directory on the way opened without following symlinks and checked
 * to be root's alone, every later step relative to that descriptor, the new
 * content in an O_EXCL temp file that is renamed over the old one, so a
 * reader (or a crash) sees the old file or the new one and never a mix.
 */
import { closeSync, fstatSync, fsyncSync, ftruncateSync, readSync, writeSync } from 'node:fs';
import { posix } from 'node:path';
import { fsyncDirectory, openFileAt, readlinkAt, renameAt, statAt, type FileStat } from '../../../native';
// errors, not the protocol index: the index pulls in every zod schema, and
// the crash test starts a process running this module a thousand times.
import { ProtocolError } from '../../../common/protocol/errors';
import type { OperationResult } from '../../../common/protocol';
import { errnoCode } from '../../../common/errno';
import { openTrustedDirectory, type TrustedDirectory } from '../../../common/fs/trusted-directory';
import { unlinkQuietly, writeFileAtomically, writeTempFile } from '../../fs/atomic-write';

export { randomTempName } from '../../fs/atomic-write';

export type UpdateResult = OperationResult<'ensureHosts'>;

/** The new content for the old; return the same Buffer (or equal bytes) for "no change". */
export type Transform = (content: Buffer) => Buffer;

export interface UpdateOptions {
  /** Used when the file does not exist yet: then `transform` gets an empty Buffer. */
  createMode?: number;
  /** Test hook: the temp file names to try. Production uses random names. */
  tempName?: (name: string) => string;
}

/** Rereads after a concurrent change before giving up; another writer racing us that often is a bug or an attack. */
const MAX_ATTEMPTS = 5;
/** Far above any real hosts file (ad-block lists run to a few MiB); the content is held in memory. */
const MAX_BYTES = 64 * 1024 * 1024;
export const BACKUP_SUFFIX = '.berth-backup';

/** Where the file really is: its directory, open and checked, and its name there. */
interface Located {
  dir: TrustedDirectory;
  name: string;
  path: string;
}

function splitPath(path: string): { dirPath: string; name: string } {
  const slash = path.lastIndexOf('/');
  if (!path.startsWith('/') || slash === path.length - 1) throw new Error(`not an absolute file path: ${path}`);
  return { dirPath: slash === 0 ? '/' : path.slice(0, slash), name: path.slice(slash + 1) };
}

/**
 * Follows a symlinked file one step (some setups link /etc/hosts elsewhere),
 * but only to a root-owned regular file in a directory that is root's alone:
 * otherwise whoever controls the target would choose what root writes, or
 * where. A symlinked directory on the way is refused outright.
 */
function locate(path: string): Located {
  const { dirPath, name } = splitPath(path);
  const dir = openTrustedDirectory(dirPath);
  let st: FileStat | null;
  try {
    st = statAt(dir.fd, name);
    if (st === null || st.type === 'file') return { dir, name, path };
    if (st.type !== 'symlink') throw new ProtocolError('UNSAFE_PATH', `${path} is a ${st.type}, not a regular file; refusing to write it`);
  } catch (error) {
    dir.close();
    throw error;
  }
  let target: string;
  try {
    target = readlinkAt(dir.fd, name);
  } finally {
    dir.close();
  }
  // Textual resolution is sound here: the target's directory is then opened
  // with no symlink allowed anywhere on the way, so '..' cannot be reinterpreted.
  const resolved = posix.resolve(dirPath, target);
  const where = `${path} is a symlink to ${resolved}`;
  const parts = splitPath(resolved);
  let targetDir: TrustedDirectory;
  try {
    targetDir = openTrustedDirectory(parts.dirPath);
  } catch (error) {
    if (error instanceof ProtocolError) throw new ProtocolError('UNSAFE_PATH', `${where}, but ${error.message}`);
    throw error;
  }
  try {
    const target = statAt(targetDir.fd, parts.name);
    if (target === null) throw new ProtocolError('UNSAFE_PATH', `${where}, which does not exist; refusing to follow it`);
    if (target.type !== 'file') throw new ProtocolError('UNSAFE_PATH', `${where}, which is a ${target.type}, not a regular file; refusing to follow it`);
    if (target.uid !== 0) throw new ProtocolError('UNSAFE_PATH', `${where}, which is owned by uid ${target.uid}, not root; refusing to follow it`);
  } catch (error) {
    targetDir.close();
    throw error;
  }
  return { dir: targetDir, name: parts.name, path: resolved };
}

/** Reads the whole regular file; null when absent. The fstat proves which file we read. */
function readAll(dir: TrustedDirectory, name: string, path: string): { content: Buffer; ino: number } | null {
  let fd: number;
  try {
    fd = openFileAt(dir.fd, name, 'read');
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return null;
    throw error;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new ProtocolError('UNSAFE_PATH', `${path} is not a regular file; refusing to write it`);
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.alloc(64 * 1024);
      const n = readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) break;
      total += n;
      if (total > MAX_BYTES) throw new ProtocolError('INTERNAL', `${path} is larger than ${MAX_BYTES} bytes; Berth will not rewrite it`);
      chunks.push(chunk.subarray(0, n));
    }
    return { content: Buffer.concat(chunks, total), ino: st.ino };
  } finally {
    closeSync(fd);
  }
}

/** Same file, same size, same mtime: nobody wrote it since we read it. */
function sameFile(a: FileStat | null, b: FileStat | null): boolean {
  if (a === null || b === null) return a === b;
  return a.type === b.type && a.ino === b.ino && a.dev === b.dev && a.size === b.size && a.mtimeMs === b.mtimeMs;
}


/** The new file is in place; only its durability is in doubt, so say that rather than "nothing was changed". */
function syncAfterRename(dir: TrustedDirectory, path: string): void {
  try {
    fsyncDirectory(dir.fd);
  } catch (error) {
    throw new ProtocolError('INTERNAL', `${path} was updated, but flushing its directory to disk failed (${errnoCode(error) ?? 'unknown error'})`);
  }
}

class ChangedMeanwhile extends Error {}

/** A rename onto a mount point (a bind-mounted file, as containers have) fails like this. */
function isMountPoint(error: unknown): boolean {
  const code = errnoCode(error);
  return code === 'EBUSY' || code === 'EXDEV';
}

/**
 * The in-place fallback for a file that is a mount point and so cannot be
 * replaced: first a backup (atomically, beside it), then truncate and
 * rewrite. Not atomic, which is why the backup is written first.
 */
function rewriteInPlace(located: Located, before: FileStat, old: Buffer, content: Buffer, options: UpdateOptions): string {
  const { dir, name, path } = located;
  const backupName = `${name}${BACKUP_SUFFIX}`;
  const backupPath = `${posix.dirname(path)}/${backupName}`;
  writeFileAtomically(dir, backupName, old, { uid: before.uid, gid: before.gid, mode: before.mode, tempName: options.tempName });
  // Writing the backup took time: the rewrite must still start from what we read.
  if (!sameFile(statAt(dir.fd, name), before)) throw new ChangedMeanwhile();
  let fd: number;
  try {
    fd = openFileAt(dir.fd, name, 'overwrite');
  } catch (error) {
    // The file itself is untouched (e.g. mounted read-only): leave no backup of an edit that never happened.
    unlinkQuietly(dir, backupName);
    throw error;
  }
  try {
    // The part past the old end first: it is the only write that needs new space. If the disk is full it
    // fails here, the file is cut back to its old size, and the old bytes were never touched.
    if (content.length > old.length) {
      try {
        writeAllAt(fd, content.subarray(old.length), old.length);
      } catch (error) {
        ftruncateSync(fd, old.length);
        unlinkQuietly(dir, backupName);
        throw error;
      }
    }
    // Then the blocks the file already has, and the final size.
    writeAllAt(fd, content.subarray(0, Math.min(content.length, old.length)), 0);
    if (content.length < old.length) ftruncateSync(fd, content.length);
    fsyncSync(fd);
  } catch (error) {
    if (errnoCode(error) === 'ENOSPC' || errnoCode(error) === 'EDQUOT') {
      if (statAt(dir.fd, backupName) === null) throw error; // cut back above: nothing was changed
    }
    const code = errnoCode(error) ?? 'unknown error';
    throw new ProtocolError('INTERNAL', `rewriting ${path} in place failed midway (${code}); its previous content is in ${backupPath}`);
  } finally {
    closeSync(fd);
  }
  return backupPath;
}

/** pwrite until all of `content` is at `position`: a short write is carried on, never taken as done. */
function writeAllAt(fd: number, content: Buffer, position: number): void {
  let written = 0;
  while (written < content.length) written += writeSync(fd, content, written, content.length - written, position + written);
}

function mapError(error: unknown, path: string): unknown {
  if (error instanceof ProtocolError) return error;
  const code = errnoCode(error);
  if (code === 'EROFS') return new ProtocolError('READ_ONLY', `${path} is on a read-only file system; nothing was changed`);
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new ProtocolError('NO_SPACE', `the disk that holds ${path} is full, so it was not changed; free some space and try again`);
  }
  // Even root is refused: an immutable file (chattr +i, chflags schg), a sandbox or a security module.
  if (code === 'EPERM' || code === 'EACCES') {
    return new ProtocolError('PERMISSION_DENIED', `the system refused to let root change ${path} (${code}; is it immutable?); nothing was changed`);
  }
  if (code !== undefined) return new ProtocolError('INTERNAL', `updating ${path} failed (${code}); nothing was changed`);
  return error; // a bug: the daemon logs it and answers INTERNAL
}

/**
 * Reads the file at `path`, applies `transform`, and writes the result back
 * atomically if it differs. Nothing is written when nothing changes (the
 * inode and mtime stay). If the file changes between our read and our
 * rename, the temp is dropped and the whole step is redone from the read.
 */
export function updateFile(path: string, transform: Transform, options: UpdateOptions = {}): UpdateResult {
  let located: Located;
  try {
    located = locate(path);
  } catch (error) {
    throw mapError(error, path);
  }
  const { dir, name } = located;
  try {
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      const before = statAt(dir.fd, name);
      if (before !== null && before.type !== 'file') {
        throw new ProtocolError('UNSAFE_PATH', `${located.path} is now a ${before.type}, not a regular file; refusing to write it`);
      }
      const read = readAll(dir, name, located.path);
      // A different inode than the one we stat'ed, or a file that came or went: someone is writing; start over.
      if ((read === null) !== (before === null) || (read !== null && read.ino !== before!.ino)) continue;
      const old = read?.content ?? Buffer.alloc(0);
      const content = transform(old);
      if (content === old || content.equals(old)) return { changed: false, method: 'none' };
      if (before === null && options.createMode === undefined) return { changed: false, method: 'none' };
      const owner = before ?? { uid: 0, gid: 0, mode: options.createMode! };
      const temp = writeTempFile(dir, name, content, { ...owner, tempName: options.tempName });
      let renamed = false;
      try {
        if (!sameFile(statAt(dir.fd, name), before)) continue;
        renameAt(dir.fd, temp, name);
        renamed = true;
      } catch (error) {
        if (!isMountPoint(error) || before === null) throw error;
      } finally {
        if (!renamed) unlinkQuietly(dir, temp);
      }
      if (renamed) {
        syncAfterRename(dir, located.path);
        return { changed: true, method: 'rename' };
      }
      try {
        const backupPath = rewriteInPlace(located, before!, old, content, options);
        return { changed: true, method: 'in-place', backupPath };
      } catch (error) {
        if (error instanceof ChangedMeanwhile) continue;
        throw error;
      }
    }
    throw new ProtocolError('INTERNAL', `${located.path} kept changing while Berth was updating it; nothing was changed, try again`);
  } catch (error) {
    throw mapError(error, located.path);
  } finally {
    dir.close();
  }
}
