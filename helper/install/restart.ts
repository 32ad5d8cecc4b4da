import { closeSync, fstatSync, readSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import { openFileAt } from '../../native';
import type { TrustedDirectory } from '../../common/fs/trusted-directory';
import type { HelperConfig } from '../../common/helper-config/schema';

/**
 * When an install must restart a helper that already runs, and when it need
 * not. A restart cuts whatever the other enrolled users have in flight (a
 * privileged trace being gathered, a request on an open connection), so an
 * install that changes nothing the running helper cannot take in by itself
 * (another user enrolling, the same install run again) leaves it running.
 * It restarts when the program changed (an upgrade, a rebuild), when the
 * service definition changed (service-manager.ts compares what it writes),
 * or when a config field the helper reads only at start changed (below).
 */

/**
 * Config fields a running helper follows without a restart:
 * - allowUids: fileEnrolment (helper/daemon/enrolment.ts) reads the file
 *   again, on every connection and request, whenever it changed;
 * - policyUrl: the helper never reads it; the backend reads it from the file
 *   each time it fetches the policy (main/core/policy/fetch.ts).
 * Every other field is read once, into the config the helper serves with,
 * and needs a restart: orgPublicKey (which policy signatures it accepts, what
 * the policy locks, who may remove it), socketPath (where it listens; the
 * service definition changes with it), appPath, linkDir, stateDir,
 * auditLogPath and limits. Listed by exception, so a field added later
 * restarts the helper until someone shows it is followed live.
 */
const FOLLOWED_LIVE: ReadonlySet<keyof HelperConfig> = new Set(['allowUids', 'policyUrl']);

/** The fields read only at start that differ between `before` and `after`, by name. */
export function startTimeChanges(before: HelperConfig, after: HelperConfig): Array<keyof HelperConfig> {
  const keys = new Set([...Object.keys(before), ...Object.keys(after)] as Array<keyof HelperConfig>);
  return [...keys].filter((key) => !FOLLOWED_LIVE.has(key) && !isDeepStrictEqual(before[key], after[key])).sort();
}

const CHUNK = 1024 * 1024;

/**
 * Whether `name` in `dir` is already exactly `content` as the installer
 * writes it (a regular file, not a link, root's, mode 0755). Only then does a
 * helper started from it run these very bytes; anything else (absent,
 * another size or byte, another owner or mode, which someone could have used
 * to change it meanwhile) is a changed program. Compared a chunk at a time: a
 * single executable is about 100 MB.
 */
export function installedCopyMatches(dir: TrustedDirectory, name: string, content: Buffer): boolean {
  let fd: number;
  try {
    fd = openFileAt(dir.fd, name, 'read');
  } catch {
    return false; // absent, or a link (O_NOFOLLOW): the new copy replaces it either way
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile() || st.uid !== 0 || st.gid !== 0 || (st.mode & 0o7777) !== 0o755 || st.size !== content.length) return false;
    const chunk = Buffer.allocUnsafe(Math.min(CHUNK, Math.max(content.length, 1)));
    for (let offset = 0; offset < content.length; ) {
      const n = readSync(fd, chunk, 0, Math.min(chunk.length, content.length - offset), offset);
      if (n === 0 || !chunk.subarray(0, n).equals(content.subarray(offset, offset + n))) return false;
      offset += n;
    }
    return true;
  } finally {
    closeSync(fd);
  }
}

/** "a, b and c" for the reasons a log line gives. */
export function listed(items: readonly string[]): string {
  return items.length <= 1 ? (items[0] ?? '') : `${items.slice(0, -1).join(', ')} and ${items.at(-1)!}`;
}
