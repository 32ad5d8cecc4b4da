import { join } from 'node:path';
import { answerPrompts } from './support/prompt';
import { expect, test } from './support/fixtures';
import { adminInstall, restartHelper } from './support/machine';
import { expectNotices } from './support/notices';

test('consent → "Not now": limited mode, remembered after a restart, never asked again', async ({ berth }) => {
  const page = berth.page;
  await berth.open('popover');
  await page.getByRole('button', { name: 'Not now — limited mode' }).click();
  await expect(page.getByRole('heading', { name: 'Set up the Berth helper' })).toHaveCount(0);
  await expect(page.getByText(/limited mode/i).first()).toBeVisible();

  // The limited-mode card and Settings name the same place for the CLI tools: the User location, linked there.
  await berth.open('settings');
  await expect(page.getByRole('radio', { name: /^User/ })).toBeChecked();
  await expect(page.locator('.setting-status').filter({ hasText: 'Linked in' })).toContainText(`${join(berth.home, '.berth/bin')}: berth.`);

  await berth.restart();
  await berth.open('popover');
  await expect(berth.page.getByRole('heading', { name: 'Published ports' })).toBeVisible();
  await expect(berth.page.getByRole('heading', { name: 'Set up the Berth helper' })).toHaveCount(0);
});

test('a refused prompt lands in limited mode with the reason, not in a loop; its notice is shown once, and goes once an administrator installed the helper and after a helper restart', async ({
  berth,
}) => {
  const undo = answerPrompts(berth.user, 'NO');
  try {
    const page = berth.page;
    // The menu-bar window's real size: notices must leave the ports list in view.
    await page.setViewportSize({ width: 380, height: 560 });
    await berth.open('popover');
    await page.getByRole('button', { name: 'Install helper (asks for your password)' }).click();
    await expect(page.getByText(/not allowed to run this as administrator/).first()).toBeVisible();
    await expect(page.getByRole('heading', { name: 'Set up the Berth helper' })).toHaveCount(0);
    await expect(page.getByText(/limited mode/i).first()).toBeVisible();
    // The reason once (not in the prompt's reply and again in a notice), and pkexec's own words nowhere.
    await expect(page.getByText(/not allowed to run this as administrator/)).toHaveCount(1);
    await expect(page.getByText(/Error executing command|incident has been reported/)).toHaveCount(0);
    await expectNotices(page, ['helper.install']);
    // Dismissed, it is gone; asked again and refused again, it is back, once.
    await page.getByRole('button', { name: 'Dismiss notice' }).click();
    await expectNotices(page, []);
    await page.getByRole('button', { name: 'Install helper (asks for your password)' }).click();
    await expectNotices(page, ['helper.install']);
    await expect(page.getByText(/not allowed to run this as administrator/)).toHaveCount(1);
  } finally {
    undo();
  }
  // An administrator installs the helper behind the app's back: "not installed" is no longer true.
  adminInstall(berth.user);
  const page = berth.page;
  await expect(page.getByText('Helper running', { exact: false }).first()).toBeVisible();
  await expectNotices(page, []);
  // The helper crashes and its supervisor starts it again: nothing stale, nothing twice.
  await restartHelper();
  await berth.open('popover');
  await expect(page.getByText('Helper running', { exact: false }).first()).toBeVisible();
  await expectNotices(page, []);
});
