import { lstatSync, readlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * Who can change the program the password prompt will run as root? The
 * prompt elevates whatever file sits at the helper's path: if the user (or
 * anyone but root) can replace that file, its addon, or any folder on the
 * way, then any program running as the user can swap in its own code while
 * the user types the password. Electron-free; the app's consent screen and
 * `berth helper install` both ask this before the prompt.
 */

/** One path someone other than root can change, and why, e.g. "owned by you". */
export interface WriteRisk {
  path: string;
  reason: string;
}

export interface ChangeabilityReport {
  /** True when a user other than root can change what root would run. */
  changeable: boolean;
  risks: WriteRisk[];
}

/** The parts of lstat a verdict needs. */
export interface Ownership {
  uid: number;
  gid: number;
  mode: number;
}

export interface CheckOptions {
  /** The user asking, so that the reason can say "you". Default: this process's uid. */
  uid?: number;
  /** Groups whose write permission is accepted; default {@link trustedGroups}. */
  trustedGroups?: readonly number[];
}

const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;
const S_ISVTX = 0o1000;
/** Linux's limit (MAXSYMLINKS), so a loop ends in a clear answer. */
const MAX_LINKS = 40;
/** macOS's `admin` group. */
const DARWIN_ADMIN_GID = 80;

/**
 * Groups whose write bit does not count. macOS ships /Applications as
 * root:admin 0775: its admins can already become root with their own password,
 * macOS 13+ guards apps there from other apps (App Management), and on macOS
 * the helper's code signature is verified before it runs (code-signature.ts).
 * No such group on Linux: any group-writable folder on the way is reported.
 */
export function trustedGroups(platform: NodeJS.Platform = process.platform): readonly number[] {
  return platform === 'darwin' ? [DARWIN_ADMIN_GID] : [];
}

/**
 * Why one path on the way (a folder, the file, or a symlink) lets someone
 * other than root change what is found there; undefined when only root can.
 */
export function ownershipRisk(stat: Ownership, options: Required<CheckOptions>): string | undefined {
  const type = stat.mode & S_IFMT;
  if (stat.uid !== 0) return stat.uid === options.uid ? 'owned by you' : `owned by uid ${stat.uid}, not root`;
  // A link's own mode is meaningless (always 0777); only its owner and its folder count.
  if (type === S_IFLNK) return undefined;
  // In a sticky folder (/tmp) others may add entries but not rename or remove
  // root's: the next component, which must itself be root's, cannot be swapped.
  const sticky = type === S_IFDIR && (stat.mode & S_ISVTX) !== 0;
  if ((stat.mode & 0o002) !== 0 && !sticky) return 'writable by everyone';
  // POSIX ACLs show up here too: a named user's write entry sets the mask, i.e. the group bits.
  if ((stat.mode & 0o020) !== 0 && !sticky && !options.trustedGroups.includes(stat.gid)) return `writable by its group (gid ${stat.gid})`;
  return undefined;
}

/**
 * Walks from / to `file` with lstat, never following a link without checking
 * it: each folder on the way, the file, and each symlink met (then the walk
 * goes on from the link's target). Reports every component that someone
 * other than root can change.
 */
export function pathRisks(file: string, options: Required<CheckOptions>): WriteRisk[] {
  if (!file.startsWith('/')) return [{ path: file, reason: 'not an absolute path' }];
  const risks: WriteRisk[] = [];
  const check = (path: string): Ownership | undefined => {
    try {
      const stat = lstatSync(path);
      const reason = ownershipRisk(stat, options);
      if (reason !== undefined) risks.push({ path, reason });
      return stat;
    } catch (error) {
      risks.push({ path, reason: `not checkable (${(error as NodeJS.ErrnoException).code ?? String(error)})` });
      return undefined;
    }
  };
  check('/');
  let current = '/';
  const pending = file.split('/').filter((part) => part.length > 0);
  let links = 0;
  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === '.') continue;
    // `current` never holds a link, so `..` is its real parent.
    if (part === '..') {
      current = dirname(current);
      continue;
    }
    const next = join(current, part);
    const stat = check(next);
    if (stat === undefined) return risks;
    if ((stat.mode & S_IFMT) === S_IFLNK) {
      if (++links > MAX_LINKS) return [...risks, { path: file, reason: 'behind too many symbolic links' }];
      const target = readlinkSync(next);
      pending.unshift(...target.split('/').filter((p) => p.length > 0));
      if (target.startsWith('/')) current = '/';
      continue;
    }
    current = next;
  }
  return risks;
}

/** The verdict for every file root would run (the program, its script, its addon). */
export function whoCanChange(files: readonly string[], options: CheckOptions = {}): ChangeabilityReport {
  const full: Required<CheckOptions> = {
    uid: options.uid ?? process.getuid?.() ?? -1,
    trustedGroups: options.trustedGroups ?? trustedGroups(),
  };
  const seen = new Set<string>();
  const risks: WriteRisk[] = [];
  for (const file of files) {
    for (const risk of pathRisks(file, full)) {
      if (seen.has(risk.path)) continue;
      seen.add(risk.path);
      risks.push(risk);
    }
  }
  return { changeable: risks.length > 0, risks };
}

/**
 * One sentence for the consent screen and the CLI when someone other than
 * root can change what the prompt would run; null when only root can.
 */
export function changeableWarning(report: ChangeabilityReport, platform: NodeJS.Platform = process.platform): string | null {
  const first = report.risks[0];
  if (!report.changeable || first === undefined) return null;
  const more = report.risks.length > 1 ? `, and ${report.risks.length - 1} more` : '';
  const home = platform === 'darwin' ? '/Applications' : '/opt';
  return (
    `The helper Berth would install can be changed without an administrator password (${first.path} is ${first.reason}${more}), ` +
    `so anything running as you could swap in its own code and have it run as root when you enter your password; ` +
    `install Berth to ${home} first, or continue only if this is your own development copy.`
  );
}
