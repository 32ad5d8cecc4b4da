import { cpSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { startPolkit } from '../../test/support/polkit';
import { REPO_ROOT, TEST_USERS } from '../../test/support/constants';
import { ensureUser } from '../../test/support/users';
import { addPackagedResources, prepareAppDir } from '../../scripts/app-dir';
import { copyElectronIntoMachine } from './electron';

/**
 * The machine the specs share: the app as a user would have it installed
 * (root-owned, readable by everyone), Electron beside it where it exists, the
 * test user, and a private system bus with polkitd for pkexec.
 */
export default async function globalSetup(): Promise<void> {
  const app = process.env.BERTH_E2E_APP;
  if (app === undefined) throw new Error('run the e2e suite through npm test (e2e/run.sh sets up its machine)');
  // The folder `_electron.launch` runs, laid out as electron-builder packs it (scripts/app-dir.test.ts
  // checks the same folder), with the helper and CLI executables in its resources.
  await prepareAppDir(app);
  await addPackagedResources(app);
  // And the bundles the suite drives directly: `berth app` as the user (browser mode), the helper as root (machine.ts).
  for (const dir of ['cli', 'helper']) cpSync(join(REPO_ROOT, 'dist', dir), join(app, 'dist', dir), { recursive: true });
  execFileSync('chmod', ['-R', 'a+rX', app]);
  copyElectronIntoMachine(app);
  ensureUser(TEST_USERS.test);
  await startPolkit();
}
