import { mkdirSync } from 'node:fs';
import { statAt } from '../../native';
import { openTrustedDirectory, withTrustedDirectory, type TrustedDirectory } from '../../common/fs/trusted-directory';

/**
 * The helper's state directory (policy cache, link record), created
 * root-owned 0755 when missing: anyone may read it, only root may change it.
 * Its parent must already be root's alone, so the name cannot be raced.
 */
export function openStateDir(stateDir: string): TrustedDirectory {
  const slash = stateDir.lastIndexOf('/');
  const parent = slash === 0 ? '/' : stateDir.slice(0, slash);
  withTrustedDirectory(parent, (dir) => {
    if (statAt(dir.fd, stateDir.slice(slash + 1)) === null) mkdirSync(stateDir, { mode: 0o755 });
  });
  return openTrustedDirectory(stateDir);
}
