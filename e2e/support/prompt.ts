import { setPolkitRule } from '../../test/support/polkit';
import type { TestUser } from '../../test/support/constants';

/**
 * How the administrator prompt answers `user` during a spec; returns the undo.
 * Linux: a polkit rule for the real pkexec and polkitd (test/support/polkit.ts).
 * macOS: the test build's prompt is the runner's passwordless sudo
 * (main/install/e2e-root-shell.ts, e2e/run-macos.sh), which always approves:
 * a refusal cannot be staged there, so the specs that need one are Linux's.
 */
export function answerPrompts(user: TestUser, answer: 'YES' | 'NO'): () => void {
  if (process.platform !== 'darwin') return setPolkitRule(user.name, answer);
  if (answer === 'NO') throw new Error('the macOS test build approves every prompt; a refused prompt is staged on Linux only');
  return () => undefined;
}
