import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPolkit } from '../../test/support/polkit';
import { REPO_ROOT, TEST_USERS } from '../../test/support/constants';
import { ensureUser } from '../../test/support/users';
import { addPackagedResources, prepareAppDir } from '../../scripts/app-dir';
import { copyElectronIntoMachine } from './electron';

/**
 * The app as a user would have it installed, root-owned and readable by
 * everyone: laid out as electron-builder packs it (scripts/app-dir.test.ts
 * checks the same folder), with the helper and CLI executables in its
 * resources, plus the bundles the suite drives directly (`berth app` as the
 * user in browser mode, the helper as root in machine.ts).
 */
async function layOutApp(app: string): Promise<void> {
  await prepareAppDir(app);
  await addPackagedResources(app);
  for (const dir of ['cli', 'helper']) cpSync(join(REPO_ROOT, 'dist', dir), join(app, 'dist', dir), { recursive: true });
  execFileSync('chmod', ['-R', 'a+rX', app]);
}

/**
 * The machine the specs share. Linux (as root, in e2e/run.sh's private
 * machine): the app, Electron beside it, the test user, and a private system
 * bus with polkitd for pkexec. macOS (as the desktop user, e2e/run-macos.sh):
 * the app laid out in a staging folder, then moved into place as root.
 */
export default async function globalSetup(): Promise<void> {
  const app = process.env.BERTH_E2E_APP;
  if (app === undefined) throw new Error('run the e2e suite through npm test or e2e/run-macos.sh (they set up its machine)');
  if (process.platform === 'darwin') {
    const staging = mkdtempSync(join(tmpdir(), 'berth-e2e-app-'));
    try {
      await layOutApp(join(staging, 'app'));
      // Root-owned like an app in /Applications, so the installer's who-can-change check passes (T30).
      const sudo = (...argv: string[]): void => void execFileSync('/usr/bin/sudo', ['-n', '--', ...argv], { stdio: 'inherit' });
      sudo('/bin/rm', '-rf', app);
      sudo('/bin/mkdir', '-p', app);
      sudo('/usr/bin/ditto', join(staging, 'app'), app);
      sudo('/usr/sbin/chown', '-R', 'root:wheel', app);
    } finally {
      rmSync(staging, { recursive: true, force: true });
    }
    return;
  }
  await layOutApp(app);
  copyElectronIntoMachine(app);
  ensureUser(TEST_USERS.test);
  await startPolkit();
}
