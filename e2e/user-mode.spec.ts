import { expect, test } from './support/fixtures';
import { installUserMode } from './support/machine';

test('a machine set up with install --user: no consent prompt, the limits shown', async ({ berth }) => {
  installUserMode(berth.user);
  // The app started before the admin's install; a restart is what a user would do (or the next login).
  await berth.restart();
  const page = berth.page;
  await berth.open('popover');
  await expect(page.getByRole('heading', { name: 'Set up the Berth helper' })).toHaveCount(0);
  await expect(page.getByText(/user mode/i).first()).toBeVisible();
  await berth.open('settings');
  const limits = page.getByRole('list', { name: 'User mode limits' }).first();
  await expect(limits).toContainText('ports below 1024 work only where the OS allows a direct bind');
  await expect(limits).toContainText('no privileged diagnostics trace is gathered');
});
