import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync, readlinkSync, type Stats } from 'node:fs';
import { join } from 'node:path';

/**
 * What an overlay's upper layer holds, path by path: the files a sandbox
 * created or changed, and whiteouts for what it deleted. Two snapshots tell
 * exactly what a step wrote or left behind.
 */

export interface UpperEntry {
  kind: 'file' | 'directory' | 'symlink' | 'whiteout' | 'other';
  mode: number;
  uid: number;
  gid: number;
  /** sha256 of a file's bytes, a link's target. */
  content?: string;
}

export type UpperSnapshot = Map<string, UpperEntry>;

function describe(path: string, st: Stats): UpperEntry {
  const base = { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
  if (st.isFile()) return { kind: 'file', ...base, content: createHash('sha256').update(readFileSync(path)).digest('hex') };
  if (st.isDirectory()) return { kind: 'directory', ...base };
  if (st.isSymbolicLink()) return { kind: 'symlink', ...base, content: readlinkSync(path) };
  // overlayfs records a deletion as a 0:0 character device.
  if (st.isCharacterDevice() && st.rdev === 0) return { kind: 'whiteout', ...base };
  return { kind: 'other', ...base };
}

/** Every entry under `upperDir`, keyed by its path inside the sandbox ('/etc/hosts'). */
export function snapshotUpper(upperDir: string): UpperSnapshot {
  const entries: UpperSnapshot = new Map();
  const walk = (dir: string, inside: string): void => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      const st = lstatSync(path);
      entries.set(`${inside}/${name}`, describe(path, st));
      if (st.isDirectory()) walk(path, `${inside}/${name}`);
    }
  };
  walk(upperDir, '');
  return entries;
}

/** The lower layer's entry at `path` (this machine's file system under the overlay), if any. */
function lowerEntry(lowerDir: string, path: string): UpperEntry | undefined {
  try {
    return describe(join(lowerDir, path), lstatSync(join(lowerDir, path)));
  } catch {
    return undefined;
  }
}

const same = (a: UpperEntry | undefined, b: UpperEntry | undefined): boolean =>
  a !== undefined && b !== undefined && a.kind === b.kind && a.mode === b.mode && a.uid === b.uid && a.gid === b.gid && a.content === b.content;

/**
 * What differs in the upper layer between two snapshots, as one line per path,
 * leaving out what `allowed` accepts and entries that are only overlayfs
 * copy-ups: an entry that now equals the lower layer's (same kind, owner,
 * mode and bytes) changes nothing the machine would see. A directory is
 * copied up as soon as anything is created in it and stays in the upper
 * layer after that is removed; a file rewritten to its original bytes
 * (the hosts file after Berth's block is removed) is copied up likewise.
 */
export function upperChanges(
  before: UpperSnapshot,
  after: UpperSnapshot,
  lowerDir: string,
  allowed: (path: string) => boolean,
): string[] {
  const changes: string[] = [];
  for (const [path, entry] of after) {
    const earlier = before.get(path);
    if (same(earlier, entry) || allowed(path)) continue;
    const lower = lowerEntry(lowerDir, path);
    if (entry.kind === 'whiteout') {
      // A whiteout over nothing hides nothing.
      if (lower !== undefined) changes.push(`${path}: deleted`);
      continue;
    }
    if (same(lower, entry)) continue;
    changes.push(`${path}: ${earlier === undefined ? (lower === undefined ? 'created' : 'changed') : 'changed'} (${entry.kind})`);
  }
  for (const path of before.keys()) {
    if (after.has(path) || allowed(path)) continue;
    // Gone from the upper layer: what was there at the snapshot is back to the lower layer's, or gone with its parent.
    changes.push(`${path}: removed since the first snapshot`);
  }
  return changes.sort();
}
