import { expect, test } from './support/fixtures';

// The tray menu itself is native (main/core/tray-menu.ts, tested under Node);
// its "Add port…" opens the popover at #add-port, changing only the hash of a
// page already open, as main.ts does. This is that page's side.
test('the tray menu’s "Add port…" (#add-port) opens the popover on the add-port form, each time it is chosen', async ({ berth }) => {
  const page = berth.page;
  await berth.open('popover');
  await page.getByRole('button', { name: 'Not now — limited mode' }).click();
  await expect(page.getByRole('heading', { name: 'Published ports' })).toBeVisible();
  await expect(page.getByRole('button', { name: 'Publish port' })).toHaveCount(0);

  await page.evaluate(() => void (window.location.hash = 'add-port'));
  // The form, with the keyboard in its first field.
  await expect(page.getByRole('button', { name: 'Publish port' })).toBeVisible();
  await expect(page.getByLabel('Listen address')).toBeFocused();
  // Done once: the address is the popover's again, so choosing the item again is a change the page sees.
  await expect.poll(() => page.evaluate(() => window.location.hash)).toBe('#popover');

  await page.getByRole('button', { name: 'Cancel' }).click();
  await expect(page.getByRole('button', { name: 'Publish port' })).toHaveCount(0);
  await page.evaluate(() => void (window.location.hash = 'add-port'));
  await expect(page.getByRole('button', { name: 'Publish port' })).toBeVisible();
  await expect(page.getByRole('heading', { name: 'Published ports' })).toBeVisible();
});
