import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { assertPrivateMountNamespace } from './namespace';

const SCRATCH_ROOT = '/mnt';

/**
 * A scratch directory whose every component is root-owned and not
 * group/world-writable, as the helper demands before it writes as root.
 * (/tmp is world-writable, so nothing under it passes.) It lives on a tmpfs
 * mounted over /mnt in the test's private mount namespace only.
 */
export function safeScratchDir(prefix: string): string {
  assertPrivateMountNamespace();
  const mounted = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .some((line) => line.split(' ')[4] === SCRATCH_ROOT && line.includes(' - tmpfs '));
  if (!mounted) execFileSync('mount', ['-t', 'tmpfs', '-o', 'mode=0755', 'berth-scratch', SCRATCH_ROOT]);
  const dir = mkdtempSync(join(SCRATCH_ROOT, `${prefix}-`));
  chmodSync(dir, 0o755);
  return dir;
}
