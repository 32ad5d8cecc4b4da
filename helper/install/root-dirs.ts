import { chmodSync, lstatSync, mkdirSync } from 'node:fs';
import { statAt } from '../../native';
import { openTrustedDirectory, withTrustedDirectory } from '../../common/fs/trusted-directory';

/**
 * Makes sure `path` exists as a directory chain that is root's alone,
 * creating what is missing (root, 0755). Each level is created only after its
 * parent was opened without following links and checked, so nobody can slip a
 * symlink or their own directory in between. Returns what it created, deepest
 * last, for the install record.
 */
export function ensureRootDirectory(path: string): string[] {
  const created: string[] = [];
  let current = '/';
  for (const part of path.split('/').filter((p) => p.length > 0)) {
    const next = current === '/' ? `/${part}` : `${current}/${part}`;
    withTrustedDirectory(current, (dir) => {
      if (statAt(dir.fd, part) === null) {
        mkdirSync(next, { mode: 0o755 });
        chmodSync(next, 0o755); // whatever root's umask is: users must be able to reach the socket
        created.push(next);
      }
    });
    current = next;
  }
  // The whole chain, including levels that already existed, must pass.
  openTrustedDirectory(path).close();
  return created;
}

/**
 * Checks, without creating anything, that `path` could be made root's alone:
 * its deepest existing ancestor (or itself) must pass the same walk. Install
 * runs this for every directory first, so a refusal leaves the machine as it was.
 */
export function preflightRootDirectory(path: string): void {
  let existing = path;
  while (existing !== '/' && !existsNoFollow(existing)) existing = existing.slice(0, existing.lastIndexOf('/')) || '/';
  openTrustedDirectory(existing).close();
}

function existsNoFollow(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}
