// Dev-only: screenshots of the preview page (fixture snapshots, no backend) in
// light and dark, for looking at the UI. The real screenshots for the docs come
// from the end-to-end suite against the real backend.
//
//   node renderer/dev/screenshots.mjs [outDir]    (default /tmp/berth-screens)
//
// Builds the preview (vite --mode preview), serves it on 127.0.0.1 with Vite's
// preview server, and drives Debian's Chromium through Playwright.
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from '@playwright/test';
import { build, preview } from 'vite';

const here = dirname(fileURLToPath(import.meta.url));
const configFile = join(here, '..', 'vite.config.mts');
const outDir = process.argv[2] ?? '/tmp/berth-screens';
mkdirSync(outDir, { recursive: true });

/** [file name, query + hash, width, height, optional selector scrolled to the top first] */
const SHOTS = [
  ['popover-running', '?fixture=running#popover', 380, 560],
  ['popover-first-run', '?fixture=first-run#popover', 380, 1100],
  ['popover-limited-form', '?fixture=limited&form=open&port=80&tport=8080#popover', 380, 860],
  ['popover-trouble', '?fixture=trouble#popover', 380, 720],
  ['popover-user-mode', '?fixture=user-mode#popover', 380, 480],
  ['popover-waiting', '?fixture=limited&prompt=install#popover', 380, 560],
  ['consent', '?fixture=first-run#consent', 560, 1000],
  ['settings-running', '?fixture=running#settings', 680, 1300],
  ['settings-locked', '?fixture=locked#settings', 680, 1300],
  ['settings-user-mode', '?fixture=user-mode#settings', 680, 1300],
  // At the menu-bar window's own size (380 x 560), where narrow columns and long words show up.
  ['narrow-consent', '?fixture=first-run#consent', 380, 560],
  ['narrow-ports', '?fixture=trouble#popover', 380, 560, '.ports'],
  ['narrow-port-form', '?fixture=limited&form=open&port=80&tport=8080#popover', 380, 560, '.port-form'],
  ['narrow-settings', '?fixture=locked#settings', 380, 560],
  ['narrow-settings-policy', '?fixture=locked#settings', 380, 560, '#policy-heading'],
  ['narrow-audit', '?fixture=running#settings', 380, 560, '#audit-heading'],
];

await build({ configFile, mode: 'preview', logLevel: 'warn' });
const server = await preview({ configFile, mode: 'preview', logLevel: 'warn', preview: { host: '127.0.0.1', port: 0 } });
const base = server.resolvedUrls?.local[0];
if (base === undefined) throw new Error('the preview server has no local URL');
const browser = await chromium.launch({
  executablePath: process.env.BERTH_CHROMIUM ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'],
});
try {
  for (const theme of ['light', 'dark']) {
    for (const [name, query, width, height, scrollTo] of SHOTS) {
      const page = await browser.newPage({ viewport: { width, height }, colorScheme: theme });
      const [search, hash] = query.split('#');
      await page.goto(`${base}dev/preview.html${search}&theme=${theme}#${hash}`);
      await page.locator('main').first().waitFor();
      if (scrollTo !== undefined) {
        await page.locator(scrollTo).first().waitFor();
        await page.locator(scrollTo).first().evaluate((element) => element.scrollIntoView({ block: 'start' }));
      }
      const file = join(outDir, `${name}-${theme}.png`);
      await page.screenshot({ path: file });
      await page.close();
      console.log(file);
    }
  }
} finally {
  await browser.close();
  await new Promise((resolve) => server.httpServer.close(resolve));
}
