import { execFileSync } from 'node:child_process';
import { readlinkSync } from 'node:fs';

/**
 * Tests that bind-mount over /etc/hosts or /usr/local/bin run only inside
 * the private mount namespace `npm test` creates; anywhere else they would
 * touch the machine's own files, so they refuse to run.
 */
export function assertPrivateMountNamespace(): void {
  const outer = process.env.BERTH_OUTER_MNT_NS;
  if (process.env.BERTH_TEST_NAMESPACE !== '1' || !outer || readlinkSync('/proc/self/ns/mnt') === outer) {
    throw new Error('this test bind-mounts over system paths: run it through `npm test` (a private mount namespace)');
  }
}

/** Bind-mounts `source` over `target` (both must exist); returns the undo. */
export function bindMount(source: string, target: string): () => void {
  assertPrivateMountNamespace();
  execFileSync('mount', ['--bind', source, target]);
  return () => execFileSync('umount', [target]);
}
