import { _electron, test as base, type Page } from '@playwright/test';
import { writeFileSync, chmodSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { TestUser } from '../../test/support/constants';
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

/** Electron runs as the test user too: a wrapper that drops to that user with a clean environment. */
function electronWrapper(user: TestUser, home: string): string {
  // The electron package's main export is the binary's path.
  const electron = createRequire(__filename)('electron') as string;
  const wrapper = join(home, 'electron-as-user.sh');
  writeFileSync(
    wrapper,
    `#!/bin/sh\nexec setpriv --reuid=${user.uid} --regid=${user.gid} --clear-groups --inh-caps=-all -- env HOME=${home} DISPLAY="$DISPLAY" ${electron} "$@"\n`,
  );
  chmodSync(wrapper, 0o755);
  return wrapper;
}

export const test = base.extend<{ berth: Berth }>({
  berth: async ({ page, browser }, use, testInfo) => {
    resetMachine();
    const user = testUser();
    const home = freshHome(user);
    const electron = testInfo.project.metadata?.electron === true;
    let backend: RunningBackend | undefined;
    let current: Page = page;
    let app: Awaited<ReturnType<typeof _electron.launch>> | undefined;
    let theme: 'light' | 'dark' = 'light';
    /** Whether this page already traded the backend's launch link (it works once); later views reuse the tab's session. */
    let launched = false;

    const start = async (): Promise<void> => {
      if (electron) {
        app = await _electron.launch({ executablePath: electronWrapper(user, home), args: [APP] });
        current = await app.firstWindow();
      } else {
        backend = await startBackend(user, home);
        launched = false;
      }
    };
    const stop = async (): Promise<void> => {
      await app?.close();
      await backend?.stop();
    };
    await start();

    const berth: Berth = {
      user,
      home,
      get backend() {
        return backend;
      },
      get page() {
        return current;
      },
      async open(view, options) {
        theme = options?.theme ?? theme;
        await current.emulateMedia({ colorScheme: theme });
        if (electron) {
          await current.evaluate((hash) => (window.location.hash = hash), view);
        } else {
          const url = new URL(backend!.url);
          if (launched) {
            // A fresh window of that view, as opening it does: a hash change alone keeps the page's state
            // (an add form left open); a reload keeps the tab's session (sessionStorage), not the page.
            await current.goto(`${url.origin}/#${view}`);
            await current.reload();
          } else {
            await current.goto(`${url.href}#${view}`);
          }
          launched = true;
        }
      },
      async restart() {
        await stop();
        if (!electron) current = await browser.newPage();
        await start();
      },
    };
    await use(berth);
    await stop();
    resetMachine();
  },
});

export { expect } from '@playwright/test';
