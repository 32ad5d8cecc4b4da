import { join } from 'node:path';
import { defineConfig } from '@playwright/test';
import { installedElectron } from './e2e/support/electron';
import { TEST_USERS } from './test/support/constants';

/**
 * End-to-end: the real UI against the real backend (as an unprivileged user),
 * the real helper, installer, pkexec and polkitd. Run by `npm test` inside a
 * machine of its own (e2e/run.sh): private mounts over /usr/local, /var/lib,
 * /var/log, /run and a copy of /etc. Playwright's own browser download is
 * blocked here, so the `browser` project drives Debian's Chromium; the
 * `electron` project (the same specs through _electron.launch) exists only
 * where an Electron binary is installed. Chromium runs as the test user, as a
 * user's browser does: browser mode serves no other uid, root included (T25).
 */
const CHROMIUM = process.env.BERTH_CHROMIUM ?? '/usr/bin/chromium';

export default defineConfig({
  testDir: 'e2e',
  testMatch: '*.spec.ts',
  // One machine, one helper, one port 80: the specs take turns.
  workers: 1,
  fullyParallel: false,
  retries: 0,
  timeout: 180_000,
  expect: { timeout: 30_000 },
  reporter: [['list']],
  globalSetup: './e2e/support/global-setup.ts',
  outputDir: 'test-results/e2e',
  // The berth fixture starts the page (a browser tab or the app's window) and attaches a screenshot when a spec fails.
  use: { trace: 'off', colorScheme: 'light' },
  projects: [
    {
      name: 'browser',
      use: {
        browserName: 'chromium',
        launchOptions: {
          executablePath: join(__dirname, 'e2e/support/chromium-as-user.sh'),
          env: { ...process.env, BERTH_CHROMIUM: CHROMIUM, BERTH_E2E_BROWSER_USER: TEST_USERS.test },
          args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
        },
      },
    },
    // The same specs against the real app: the folder scripts/app-dir.ts lays out, run by Electron itself.
    ...(installedElectron() !== undefined ? [{ name: 'electron', metadata: { electron: true } }] : []),
  ],
});
