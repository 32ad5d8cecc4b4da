import { closeSync, fchmodSync, fstatSync, ftruncateSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fsyncDirectory, openDirectoryNoFollow, openFileAt, renameAt, statAt, unlinkAt, type PathComponent, type PeerCredentials } from '../../native';
import { auditLogGenerationName, MAX_AUDIT_FILES } from '../../common/audit-log-files';
import { errnoCode } from '../../common/errno';

/** One line of the audit log: who asked for what, and how it ended. */
export interface AuditEntry {
  peer: PeerCredentials;
  op: string;
  args?: Record<string, unknown>;
  result: 'ok' | string;
  message?: string;
  /** A summary line: this many more requests like it were folded into it (see audit-throttle.ts). */
  repeated?: number;
  /** With `repeated`: when the first of them arrived. */
  since?: string;
}

export interface AuditLog {
  write(entry: AuditEntry): void;
  close(): void;
}

/** How much disk the log may take: `files` files (the current one included) of at most `fileBytes` each. */
export interface AuditLogBounds {
  files: number;
  fileBytes: number;
}


/** Longest line written; anything a client sends that would make it longer is summarized. */
const MAX_LINE = 4096;

/** Discards entries: for `serve` without --audit-log. */
export const nullAuditLog: AuditLog = { write() {}, close() {} };

const DEFAULT_BOUNDS: AuditLogBounds = { files: 4, fileBytes: 8 * 1024 * 1024 };

/** Our own uid: the log and its directory must be ours (root's, for the installed helper). */
const ownUid = (): number => process.getuid?.() ?? 0;

/**
 * Why root must not keep its log in this directory, or undefined. The
 * directory itself must be ours and not group/world-writable: nobody else
 * may create, rename or replace an entry in it, so a rename there moves
 * only our files and a name we checked stays ours. The folders above must
 * be ours too; a world-writable one is accepted only with the sticky bit
 * (/tmp, in tests), which stops others renaming our directory away. We
 * hold the directory's fd from here on, so a later swap above it changes
 * nothing for us.
 */
function directoryProblem(components: readonly PathComponent[]): string | undefined {
  const uid = ownUid();
  for (const [index, c] of components.entries()) {
    const last = index === components.length - 1;
    if (c.uid !== uid && c.uid !== 0) return `${c.path} is owned by uid ${c.uid}`;
    const writable = (c.mode & 0o022) !== 0;
    if (last && (c.uid !== uid || writable)) return `${c.path} must be owned by uid ${uid} and not group/world-writable`;
    if (!last && writable && (c.mode & 0o1000) === 0) return `${c.path} is writable by others without the sticky bit`;
  }
  return undefined;
}

/**
 * Appends JSON lines to a root-owned file, rotating within its directory so
 * the log never takes more than `files` x `fileBytes` of root's disk.
 *
 * Safe as root: the directory is opened once without following symlinks and
 * checked (see directoryProblem); every later step is an *at() call on that
 * fd. Rotation renames within it (renameat never follows a link at either
 * name) and the new current file is created O_CREAT|O_EXCL|O_NOFOLLOW, then
 * checked to be a regular file of ours with one link. Mode 0644: the user's
 * app shows this log, it holds no secrets.
 *
 * The oldest file is the one dropped, never the newest records. A write that
 * fails (a full disk) is reported on stderr now and then and never stops the
 * helper; a short write is cut back so no torn line is left for the next one
 * to run into.
 */
export function openAuditLog(path: string, bounds: AuditLogBounds = DEFAULT_BOUNDS): AuditLog {
  const dirPath = dirname(path);
  const base = basename(path);
  const opened = openDirectoryNoFollow(dirPath);
  const dirfd = opened.fd;
  let fd: number | undefined;
  try {
    const problem = directoryProblem(opened.components);
    if (problem !== undefined) throw new Error(`audit log directory ${dirPath}: ${problem}`);
    // Leftovers from a config that kept more files would count against the bound forever.
    for (let g = bounds.files; g < MAX_AUDIT_FILES; g++) {
      const name = auditLogGenerationName(base, g);
      if (statAt(dirfd, name)?.type === 'file') unlinkAt(dirfd, name);
    }
    fd = statAt(dirfd, base) === null ? createCurrent(dirfd, dirPath, base) : openExisting(dirfd, dirPath, base);
  } catch (error) {
    closeSync(dirfd);
    throw error;
  }
  let size = fstatSync(fd).size;
  let open = true;
  let failures = 0;

  const fail = (what: string, error: unknown): void => {
    // A full disk must not stop the helper: say so on stderr, now and then.
    if (failures++ % 1000 === 0) console.error(`berth-helper: cannot ${what} the audit log (${errnoCode(error) ?? (error as Error).message})`);
  };

  /** Makes room: the oldest file goes, each other moves down one, and a fresh current file is made. */
  const rotate = (): void => {
    if (fd !== undefined) {
      closeSync(fd);
      fd = undefined;
    }
    // Shift only when there is a current file to make room for: retries after a
    // failed create (a full disk) must not push the history off the end.
    if (statAt(dirfd, base) !== null) {
      for (let g = bounds.files - 1; g >= 1; g--) {
        const from = auditLogGenerationName(base, g - 1);
        if (statAt(dirfd, from) !== null) renameAt(dirfd, from, auditLogGenerationName(base, g));
      }
    }
    fd = createCurrent(dirfd, dirPath, base);
    size = 0;
    try {
      fsyncDirectory(dirfd);
    } catch {
      // Durability of the rename is a nicety; the records are what count.
    }
  };

  return {
    write(entry) {
      if (!open) return;
      let line = JSON.stringify({ time: new Date().toISOString(), ...entry });
      // A line is a record, not a dump: oversized args are dropped, the fact kept.
      if (line.length > MAX_LINE) line = JSON.stringify({ time: new Date().toISOString(), ...entry, args: { truncated: true } });
      const bytes = Buffer.from(line.slice(0, MAX_LINE) + '\n');
      try {
        if (fd === undefined || (size > 0 && size + bytes.length > bounds.fileBytes)) rotate();
      } catch (error) {
        fail('rotate', error);
        return;
      }
      const current = fd!;
      try {
        // At our own idea of the end (pwrite): after a short write is cut back, the
        // fd's offset would otherwise leave a hole of NULs before the next line.
        const written = writeSync(current, bytes, 0, bytes.length, size);
        if (written < bytes.length) throw Object.assign(new Error('short write'), { code: 'ENOSPC' });
        size += written;
      } catch (error) {
        // Cut back to the last whole line: no torn line for the next one to run into.
        try {
          ftruncateSync(current, size);
        } catch {
          // Nothing more to do; the next line starts after whatever is there.
        }
        fail('write', error);
      }
    },
    close() {
      if (!open) return;
      open = false;
      if (fd !== undefined) closeSync(fd);
      closeSync(dirfd);
    },
  };
}

/** A regular file of ours, with one link (no hard link to someone else's file). */
function checkOurs(fd: number, path: string): void {
  const st = fstatSync(fd);
  if (!st.isFile() || st.uid !== ownUid() || st.nlink !== 1) {
    closeSync(fd);
    throw new Error(`audit log ${path} must be a regular file owned by this user with one link`);
  }
}

/** O_CREAT|O_EXCL|O_NOFOLLOW relative to the directory fd: nothing planted at the name is ever opened. */
function createCurrent(dirfd: number, dirPath: string, base: string): number {
  const fd = openFileAt(dirfd, base, 'create-exclusive', 0o644);
  checkOurs(fd, join(dirPath, base));
  // The umask may have taken bits away; the app reads this as the user.
  fchmodSync(fd, 0o644);
  return fd;
}

/**
 * The current file from an earlier run, opened relative to the checked
 * directory's fd (openat with O_NOFOLLOW, no O_TRUNC): nothing planted at
 * the name is followed. Writes go to our own idea of the end (pwrite).
 */
function openExisting(dirfd: number, dirPath: string, base: string): number {
  const fd = openFileAt(dirfd, base, 'overwrite');
  checkOurs(fd, join(dirPath, base));
  return fd;
}
