import { _electron, test as base, type Browser, type ElectronApplication, type Page } from '@playwright/test';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestUser } from '../../test/support/constants';
import { asUserPrefix } from '../../test/support/user-home';
import { electronInMachine } from './electron';
import { APP, freshHome, resetMachine, startBackend, testUser, type RunningBackend } from './machine';

export type View = 'popover' | 'settings' | 'consent';

export interface Berth {
  user: TestUser;
  home: string;
  /** Browser mode: the backend process; under Electron the app is its own backend. */
  backend: RunningBackend | undefined;
  page: Page;
  /** Shows a view of the app (the tray popover, the settings window, the consent screen). */
  open(view: View, options?: { theme?: 'light' | 'dark' }): Promise<void>;
  /** Quits and starts the app again with the same home (settings and mappings kept). */
  restart(): Promise<void>;
}

/**
 * Electron runs as the test user too, as a user's app does: a wrapper that
 * starts it as that user with a login-like environment of its own (DISPLAY
 * kept for the X server the Linux suite runs under).
 */
function electronWrapper(user: TestUser, home: string): string {
  const wrapper = join(home, 'electron-as-user.sh');
  const prefix = asUserPrefix(user, home).join(' ');
  writeFileSync(wrapper, `#!/bin/sh\nexec ${prefix} DISPLAY="$DISPLAY" ${electronInMachine(APP)} "$@"\n`);
  chmodSync(wrapper, 0o755);
  return wrapper;
}

export const test = base.extend<{ berth: Berth }, { uiBrowser: Browser | undefined }>({
  // The project's Chromium (browser mode), once per worker; the electron project starts none.
  uiBrowser: [
    async ({ playwright, launchOptions }, use, workerInfo) => {
      if (workerInfo.project.metadata?.electron === true) return use(undefined);
      const browser = await playwright.chromium.launch(launchOptions);
      await use(browser);
      await browser.close();
    },
    { scope: 'worker' },
  ],

  berth: async ({ uiBrowser }, use, testInfo) => {
    resetMachine();
    const user = testUser();
    const home = freshHome(user);
    let backend: RunningBackend | undefined;
    let current: Page | undefined;
    let app: ElectronApplication | undefined;
    let theme: 'light' | 'dark' = 'light';
    /** Whether this page already traded the backend's launch link (it works once); later views reuse the tab's session. */
    let launched = false;

    const start = async (): Promise<void> => {
      if (uiBrowser === undefined) {
        app = await _electron.launch({ executablePath: electronWrapper(user, home), args: [APP] });
        // As a user opening Berth again would: the running app shows its window once it has started
        // (main.ts), also when nothing needs an answer and it would start with none.
        await app.evaluate(({ app: electronApp }) => void electronApp.emit('second-instance'));
        current = await app.firstWindow();
        await current.waitForLoadState('domcontentloaded');
      } else {
        backend = await startBackend(user, home);
        current = await uiBrowser.newPage({ colorScheme: theme });
        launched = false;
      }
    };
    const stop = async (): Promise<void> => {
      await app?.close();
      app = undefined;
      if (uiBrowser !== undefined) await current?.context().close();
      await backend?.stop();
      backend = undefined;
    };
    await start();

    const berth: Berth = {
      user,
      home,
      get backend() {
        return backend;
      },
      get page() {
        return current!;
      },
      async open(view, options) {
        const page = current!;
        theme = options?.theme ?? theme;
        await page.emulateMedia({ colorScheme: theme });
        if (backend === undefined) {
          await page.evaluate((hash) => (window.location.hash = hash), view);
        } else {
          const url = new URL(backend.url);
          if (launched) {
            // A fresh window of that view, as opening it does: a hash change alone keeps the page's state
            // (an add form left open); a reload keeps the tab's session (sessionStorage), not the page.
            await page.goto(`${url.origin}/#${view}`);
            await page.reload();
          } else {
            await page.goto(`${url.href}#${view}`);
          }
          launched = true;
        }
      },
      async restart() {
        await stop();
        await start();
      },
    };
    try {
      await use(berth);
    } finally {
      // What the app showed when a spec failed, whichever project ran it.
      if (testInfo.status !== testInfo.expectedStatus && current !== undefined && !current.isClosed()) {
        const shot = await current.screenshot().catch(() => undefined);
        if (shot !== undefined) await testInfo.attach('at failure', { body: shot, contentType: 'image/png' });
      }
      await stop();
      resetMachine();
    }
  },
});

export { expect } from '@playwright/test';
