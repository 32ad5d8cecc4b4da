/**
 * macOS only (vitest.darwin.config.ts): the real launch_activate_socket,
 * called from a process launchd did not start for the helper (this test
 * runner's worker), hands over nothing, so the helper binds its own socket
 * as it does when run by hand. The other side, a helper launchd started,
 * runs in .github/workflows/macos.yml (install, then connect).
 */
import { describe, expect, it } from 'vitest';
import { activationFd } from './activation';

describe('activationFd with the real launchd', () => {
  it('finds no socket from launchd in a process launchd did not start for the helper', () => {
    expect(process.platform).toBe('darwin');
    expect(activationFd()).toBeUndefined();
  });
});
