// The macOS end-to-end suite's prompt stand-in exists only in a test build:
// esbuild drops it from every other one, and packaging refuses a test build.
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../test/support/constants';
import { E2E_ROOT_SHELL_MARKER, rootShellArgv } from './e2e-root-shell';

/** The main process bundle as scripts/build.mjs makes it, with the flag as given. */
async function mainBundle(e2eRootShell: boolean): Promise<string> {
  const result = await build({
    entryPoints: [join(REPO_ROOT, 'main/electron/main.ts')],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: ['electron'],
    write: false,
    logLevel: 'silent',
    define: { __BERTH_MAC_TEAM_ID__: '""', __BERTH_E2E_ROOT_SHELL__: JSON.stringify(e2eRootShell) },
  });
  return result.outputFiles[0]!.text;
}

describe('the test build’s root shell (e2e-root-shell.ts)', () => {
  it('runs the prompt’s command through sudo that never asks, argv untouched', () => {
    expect(rootShellArgv(['/usr/bin/env', '-i', 'PATH=/usr/bin:/bin', "/Apps/B'erth/helper", 'install'])).toEqual([
      '/usr/bin/sudo', '-n', '-p', E2E_ROOT_SHELL_MARKER, '--', '/usr/bin/env', '-i', 'PATH=/usr/bin:/bin', "/Apps/B'erth/helper", 'install',
    ]);
  });

  it('is absent from a release build and present in a test build, where packaging looks for it', async () => {
    expect((await mainBundle(false)).includes(E2E_ROOT_SHELL_MARKER)).toBe(false);
    expect((await mainBundle(false)).includes('/usr/bin/sudo')).toBe(false);
    expect((await mainBundle(true)).includes(E2E_ROOT_SHELL_MARKER)).toBe(true);
    const { TEST_BUILD_MARKER } = createRequire(import.meta.url)('../../scripts/after-pack.cjs') as { TEST_BUILD_MARKER: string };
    expect(TEST_BUILD_MARKER).toBe(E2E_ROOT_SHELL_MARKER);
  });
});
