/**
 * File operations relative to a directory descriptor, for the root helper
 * (editing /etc/hosts, symlinks in /usr/local/bin).
 *
 * Node has no *at() calls, so every path-based fs call can be raced: a user
 * swaps a parent directory for a symlink between the check and the use.
 * Here a directory is opened once, component by component, refusing
 * symlinks ({@link openDirectoryNoFollow}); the caller verifies the owners
 * and modes it reports, and every later step names a single entry of that
 * descriptor and never follows a symlink at it.
 *
 * Every `name` is one path component: non-empty, at most 255 UTF-8 bytes, no
 * '/', no NUL, no lone UTF-16 surrogate, not '.' or '..'. Violations throw
 * TypeError / RangeError (code ERR_INVALID_ARG_VALUE) before any syscall.
 * `dirfd` is a non-negative integer (so AT_FDCWD can never slip in). System
 * errors have `code`, `errno`, `syscall`, and `path` (the name; `dest` too
 * for renameAt).
 */
import { MAX_PATH_BYTES, checkAbsolutePath, checkFd, checkInteger, checkName, checkText, invalidValue, typeError } from './checks';
import { loadBinding } from './loader';

export type FileType = 'file' | 'directory' | 'symlink' | 'socket' | 'fifo' | 'char' | 'block' | 'unknown';

export interface FileStat {
  type: FileType;
  uid: number;
  gid: number;
  /** st_mode & 0o7777 (permission, setuid, setgid and sticky bits). */
  mode: number;
  nlink: number;
  size: number;
  ino: number;
  dev: number;
  mtimeMs: number;
}

export interface PathComponent {
  /** The path up to and including this directory ('/' for the root). */
  path: string;
  uid: number;
  gid: number;
  /** st_mode & 0o7777 */
  mode: number;
}

export interface OpenedDirectory {
  fd: number;
  /** '/', then each directory walked, in order; the last is the directory itself. */
  components: PathComponent[];
}

export type OpenFileMode = 'read' | 'create-exclusive' | 'overwrite';

/**
 * Opens an absolute directory path one component at a time from '/', each
 * with openat(O_RDONLY|O_DIRECTORY|O_NOFOLLOW|O_CLOEXEC) relative to the
 * previous fd (fstat each), so no component can be a symlink: ELOOP (or
 * ENOTDIR) is thrown, its message and `path` naming the offending component
 * (e.g. '/tmp/a/link'). A file in the path gives ENOTDIR, a missing one
 * ENOENT. The path must be absolute and normalized (no '.', '..', empty
 * components; a trailing slash only for '/'), without NUL, at most 4096
 * bytes, each component at most 255. Every directory must be readable
 * (O_RDONLY, not search-only). Returns the final directory fd (the caller
 * closes it with fs.closeSync) and the stat of every component, taken from
 * the descriptor, so the caller can check ownership/modes and name the culprit.
 */
export function openDirectoryNoFollow(path: string): OpenedDirectory {
  checkAbsolutePath(path, 'path');
  return loadBinding().openDirectoryNoFollow(path);
}

/** fstatat(dirfd, name, AT_SYMLINK_NOFOLLOW); null when ENOENT. A symlink is reported as one, never followed. */
export function statAt(dirfd: number, name: string): FileStat | null {
  checkFd(dirfd, 'dirfd');
  checkName(name, 'name');
  return loadBinding().statAt(dirfd, name);
}

/**
 * readlinkat; throws EINVAL if not a symlink. Handles targets up to PATH_MAX
 * (4096 bytes; ENAMETOOLONG beyond). A target that is not valid UTF-8 throws
 * EILSEQ rather than coming back altered (U+FFFD) and comparing wrongly.
 */
export function readlinkAt(dirfd: number, name: string): string {
  checkFd(dirfd, 'dirfd');
  checkName(name, 'name');
  return loadBinding().readlinkAt(dirfd, name);
}

/**
 * symlinkat(target, dirfd, name); EEXIST if name exists (even as a dangling
 * link: replacing is {@link renameAt}'s job). target: non-empty, no NUL, no
 * lone surrogate, at most 4096 bytes; it is stored as given, never resolved.
 */
export function symlinkAt(target: string, dirfd: number, name: string): void {
  checkText(target, 'target', MAX_PATH_BYTES);
  checkFd(dirfd, 'dirfd');
  checkName(name, 'name');
  loadBinding().symlinkAt(target, dirfd, name);
}

/**
 * renameat(dirfd, from, dirfd, to) within one directory: atomically replaces
 * `to` (rename never follows a symlink at `to`; it replaces the link itself,
 * even one pointing to a directory). Call {@link fsyncDirectory} after it to
 * make the rename durable.
 */
export function renameAt(dirfd: number, from: string, to: string): void {
  checkFd(dirfd, 'dirfd');
  checkName(from, 'from');
  checkName(to, 'to');
  loadBinding().renameAt(dirfd, from, to);
}

/** unlinkat(dirfd, name, 0): removes a symlink itself, never its target; never removes directories (EISDIR on Linux, EPERM on macOS). */
export function unlinkAt(dirfd: number, name: string): void {
  checkFd(dirfd, 'dirfd');
  checkName(name, 'name');
  loadBinding().unlinkAt(dirfd, name);
}

/**
 * openat with O_NOFOLLOW|O_CLOEXEC|O_NOCTTY always added (a symlink at
 * `name` throws ELOOP). mode 'read' = O_RDONLY; 'create-exclusive' =
 * O_WRONLY|O_CREAT|O_EXCL with `permissions` (required, 0..0o777, reduced by
 * the process umask as with open(2); EEXIST when anything, even a dangling
 * symlink, is at `name`); 'overwrite' = O_WRONLY, no O_TRUNC (existing file only,
 * no O_CREAT: the caller writes and sets the final size with ftruncate, so a
 * write that fails midway can leave the old bytes in place). `permissions` must be omitted for 'read' and 'overwrite'.
 *
 * Only regular files are opened: the open itself is non-blocking (a FIFO
 * cannot hang the caller), then a directory throws EISDIR and any other
 * non-regular file EINVAL, and the fd is switched back to blocking mode.
 * Returns the fd (use fs.readSync/writeSync/fsyncSync/fchownSync/fchmodSync/
 * fstatSync on it; the caller closes it).
 */
export function openFileAt(dirfd: number, name: string, mode: OpenFileMode, permissions?: number): number {
  checkFd(dirfd, 'dirfd');
  checkName(name, 'name');
  if (typeof mode !== 'string') throw typeError('mode must be a string');
  if (mode !== 'read' && mode !== 'create-exclusive' && mode !== 'overwrite') {
    throw invalidValue("mode must be 'read', 'create-exclusive' or 'overwrite'");
  }
  if (mode === 'create-exclusive') {
    checkInteger(permissions, 'permissions', 0, 0o777);
    return loadBinding().openFileAt(dirfd, name, mode, permissions);
  }
  if (permissions !== undefined) throw invalidValue("permissions is only accepted with mode 'create-exclusive'");
  return loadBinding().openFileAt(dirfd, name, mode);
}

/**
 * fsync(2) on a directory fd, e.g. after {@link renameAt} (Node's fsyncSync
 * refuses directory fds on some platforms). On macOS F_FULLFSYNC is tried
 * first, as libuv does for files. A non-directory fd throws ENOTDIR.
 */
export function fsyncDirectory(dirfd: number): void {
  checkFd(dirfd, 'dirfd');
  loadBinding().fsyncDirectory(dirfd);
}
