import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { answerPrompts } from './support/prompt';
import { expect, test } from './support/fixtures';
import { startTarget } from './support/machine';

/**
 * The README's pictures, taken from the real app against the real backend:
 * the consent screen on a first run, then (helper installed, one port
 * published) the popover, the port panel's add form and the settings window,
 * each in light and dark. Written to docs/screenshots/ when
 * BERTH_UPDATE_SCREENSHOTS=1, otherwise to test-results/ (so a test run never
 * changes the checkout).
 */
const OUT = process.env.BERTH_UPDATE_SCREENSHOTS === '1' ? 'docs/screenshots' : 'test-results/screenshots';

test('screenshots of the consent screen, popover, port panel and settings, light and dark', async ({ berth }) => {
  mkdirSync(OUT, { recursive: true });
  const page = berth.page;
  const shot = async (name: string, theme: 'light' | 'dark', width: number): Promise<void> => {
    await page.setViewportSize({ width, height: 720 });
    await page.screenshot({ path: join(OUT, `${name}-${theme}.png`), fullPage: true });
  };

  for (const theme of ['light', 'dark'] as const) {
    // As users first see it: the menu-bar window, at its real size (380 x 560), not a full-page capture.
    await page.setViewportSize({ width: 380, height: 560 });
    await berth.open('popover', { theme });
    await expect(page.getByRole('heading', { name: 'Set up the Berth helper' })).toBeVisible();
    await page.screenshot({ path: join(OUT, `consent-${theme}.png`) });
  }

  const undo = answerPrompts(berth.user, 'YES');
  const target = await startTarget('ok');
  try {
    await berth.open('popover');
    await page.getByRole('button', { name: 'Install helper (asks for your password)' }).click();
    await expect(page.getByRole('heading', { name: 'Helper running' })).toBeVisible();
    await page.getByRole('button', { name: 'Add port' }).click();
    await page.getByLabel('Listen port').fill('80');
    await page.getByLabel('Target port').fill(String(target.port));
    await page.getByRole('button', { name: 'Publish port' }).click();
    await expect(page.getByRole('listitem').filter({ hasText: '127.0.0.1:80' })).toContainText('listening', { ignoreCase: true });

    for (const theme of ['light', 'dark'] as const) {
      await berth.open('popover', { theme });
      await expect(page.getByRole('heading', { name: 'Helper running' })).toBeVisible();
      await shot('popover', theme, 380);
      await page.getByRole('button', { name: 'Add port' }).click();
      await page.getByLabel('Listen port').fill('443');
      await expect(page.getByRole('form', { name: 'Add a port' })).toBeVisible();
      await shot('ports', theme, 380);
      await berth.open('settings', { theme });
      await expect(page.getByRole('heading', { name: 'Settings' })).toBeVisible();
      await shot('settings', theme, 680);
    }
  } finally {
    await target.close();
    undo();
  }
});
