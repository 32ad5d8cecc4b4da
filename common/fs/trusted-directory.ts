import { closeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { ADDON_FILE, openDirectoryNoFollow, statAt, type PathComponent } from '../../native';
// errors, not the protocol index: the hosts crash-test fixture starts a process
// running this module a thousand times, and the index pulls in every zod schema.
import { ProtocolError } from '../protocol/errors';
import { errnoCode } from '../errno';

/** A directory opened component by component without following symlinks, and checked to be root's alone. */
export interface TrustedDirectory {
  readonly path: string;
  readonly fd: number;
  close(): void;
}

/**
 * Why root must not write under this component, or undefined. Another owner,
 * or group/world write permission, lets someone else swap a directory or a
 * file between our check and our write. The sticky bit (/tmp) is no excuse:
 * it stops deleting other people's entries, not creating look-alikes first.
 */
export function unsafeReason(component: PathComponent): string | undefined {
  if (component.uid !== 0) return `${component.path} is owned by uid ${component.uid}, not root`;
  if ((component.mode & 0o022) !== 0) {
    const who = (component.mode & 0o002) !== 0 ? 'everyone' : 'its group';
    return `${component.path} is writable by ${who} (mode ${(component.mode & 0o7777).toString(8).padStart(4, '0')})`;
  }
  return undefined;
}

type Checked = { fd: number } | { missing: true } | { unsafe: string };

/** Opens `path` without following symlinks and checks every component from '/'. */
function openChecked(path: string): Checked {
  let opened;
  try {
    opened = openDirectoryNoFollow(path);
  } catch (error) {
    const code = errnoCode(error);
    const culprit = (error as { path?: unknown }).path;
    const where = typeof culprit === 'string' && culprit.length > 0 ? culprit : path;
    // A symlink on the way would let whoever controls its target choose where root writes.
    if (code === 'ELOOP' || code === 'ENOTDIR') return { unsafe: `${where} is a symlink or not a directory` };
    if (code === 'ENOENT') return { missing: true };
    throw error;
  }
  for (const component of opened.components) {
    const reason = unsafeReason(component);
    if (reason !== undefined) {
      closeSync(opened.fd);
      return { unsafe: reason };
    }
  }
  return { fd: opened.fd };
}

/**
 * Why `path` is not root's alone, 'missing' when it does not exist, or
 * undefined when every component is root-owned, not group/world-writable and
 * no symlink. Nothing stays open.
 */
export function untrustedReason(path: string): string | 'missing' | undefined {
  const checked = openChecked(path);
  if ('fd' in checked) {
    closeSync(checked.fd);
    return undefined;
  }
  return 'missing' in checked ? 'missing' : checked.unsafe;
}

/**
 * Why the file at `path` is not root's alone, or undefined when it is: its
 * folders as {@link untrustedReason} checks them, then the file itself, read
 * with fstatat(AT_SYMLINK_NOFOLLOW) relative to its folder's fd, must be a
 * regular file owned by root and not group/world-writable. For a program that
 * root runs (the CLI link's target): whoever can change it runs code as root.
 * A missing file is a reason too: whoever creates it first decides what runs.
 * Never throws; a folder we may not read is a reason (as the user, the app
 * cannot vouch for what it cannot see).
 */
export function untrustedFileReason(path: string, options: { mayBeAbsent?: boolean } = {}): string | undefined {
  const dir = dirname(path);
  let checked: Checked;
  try {
    checked = openChecked(dir);
  } catch (error) {
    return `${dir} cannot be checked (${errnoCode(error) ?? (error as Error).message})`;
  }
  if ('missing' in checked) return `${dir} does not exist`;
  if ('unsafe' in checked) return checked.unsafe;
  let st;
  try {
    st = statAt(checked.fd, basename(path));
  } catch (error) {
    return `${path} cannot be checked (${errnoCode(error) ?? (error as Error).message})`;
  } finally {
    closeSync(checked.fd);
  }
  if (st === null) return options.mayBeAbsent === true ? undefined : `${path} does not exist`;
  // Running a link runs what it points at, which nobody checked.
  if (st.type === 'symlink') return `${path} is a symlink`;
  if (st.type !== 'file') return `${path} is a ${st.type}, not a file`;
  return unsafeReason({ path, uid: st.uid, gid: st.gid, mode: st.mode });
}

/**
 * Opens `path` and checks every component from '/'. Every later step is an
 * *at() call on the returned fd, so a component swapped for a symlink after
 * this check changes nothing for us.
 */
export function openTrustedDirectory(path: string, hint = ''): TrustedDirectory {
  const checked = openChecked(path);
  if ('missing' in checked) throw new ProtocolError('NOT_FOUND', `${path} does not exist; nothing was changed`);
  if ('unsafe' in checked) {
    throw new ProtocolError('UNSAFE_PATH', `${checked.unsafe}; refusing to write under it as root, nothing was changed${hint}`);
  }
  let open = true;
  return {
    path,
    fd: checked.fd,
    close() {
      if (open) closeSync(checked.fd);
      open = false;
    },
  };
}

/** Runs `work` with the directory open, closing it however `work` ends. */
export function withTrustedDirectory<T>(path: string, work: (dir: TrustedDirectory) => T, hint = ''): T {
  const dir = openTrustedDirectory(path, hint);
  try {
    return work(dir);
  } finally {
    dir.close();
  }
}

/**
 * Why root must not run `program` through a link, or undefined: the program
 * itself, and the native addon a single executable loads from beside itself
 * (native/loader.ts), which runs as root just the same (`sudo berth`).
 * No addon there is fine: the folder is root's, so nobody else can add one.
 */
export function untrustedProgramReason(program: string): string | undefined {
  return untrustedFileReason(program) ?? untrustedFileReason(join(dirname(program), ADDON_FILE), { mayBeAbsent: true });
}
