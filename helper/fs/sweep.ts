import { readdirSync } from 'node:fs';
import { statAt, unlinkAt } from '../../native';
import { withTrustedDirectory } from '../../common/fs/trusted-directory';
import { escapeForRegExp, STALE_TEMP_AGE_MS } from '../../common/stale-temp';

export { STALE_TEMP_AGE_MS };

/** `.NAME.berth-<16 hex>`: the names writeTempFile (atomic-write.ts) gives, and only those. */
function tempPattern(name: string): RegExp {
  return new RegExp(`^\\.${escapeForRegExp(name)}\\.berth-[0-9a-f]{16}$`);
}

/**
 * Removes the temp files an interrupted atomic write of one of `names` left
 * in `dirPath` (a crash or SIGKILL between create and rename): only our own
 * names, only root-owned regular files with one link (statAt never follows
 * a link; a link or a user's file at such a name stays), only when older
 * than a minute. The directory must be root's alone, or nothing is touched.
 * Returns what went. Never throws: a sweep that cannot run is no reason not
 * to serve.
 */
export function sweepStaleTemps(dirPath: string, names: readonly string[], now: number = Date.now()): string[] {
  const patterns = names.map(tempPattern);
  const removed: string[] = [];
  try {
    withTrustedDirectory(dirPath, (dir) => {
      // The listing only proposes names; each is checked and removed relative to the checked directory's fd.
      for (const entry of readdirSync(dirPath)) {
        if (!patterns.some((p) => p.test(entry))) continue;
        const st = statAt(dir.fd, entry);
        if (st === null || st.type !== 'file' || st.uid !== 0 || st.nlink !== 1 || now - st.mtimeMs < STALE_TEMP_AGE_MS) continue;
        unlinkAt(dir.fd, entry);
        removed.push(`${dirPath}/${entry}`);
      }
    });
  } catch {
    // Missing or unsafe directory: the operations that write there refuse it themselves.
  }
  return removed;
}
