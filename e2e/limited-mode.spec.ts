import { join } from 'node:path';
import { answerPrompts } from './support/prompt';
import { expect, test } from './support/fixtures';

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

test('a refused prompt lands in limited mode with the reason, not in a loop', async ({ berth }) => {
  const undo = answerPrompts(berth.user, 'NO');
  try {
    const page = berth.page;
    await berth.open('popover');
    await page.getByRole('button', { name: 'Install helper (asks for your password)' }).click();
    await expect(page.getByText(/not allowed to run this as administrator/).first()).toBeVisible();
    await expect(page.getByRole('heading', { name: 'Set up the Berth helper' })).toHaveCount(0);
    await expect(page.getByText(/limited mode/i).first()).toBeVisible();
  } finally {
    undo();
  }
});
