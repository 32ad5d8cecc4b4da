import { setPolkitRule } from '../test/support/polkit';
import { expect, test } from './support/fixtures';
import { installHelperFor, otherUser } from './support/machine';

test('a helper installed for another account: this one is told so, enrols with an administrator’s password, and leaves it for the other', async ({
  berth,
}) => {
  // Someone else on this computer set the helper up for themselves first.
  installHelperFor(otherUser().uid);
  await berth.restart();
  const undo = setPolkitRule(berth.user.name, 'YES');
  try {
    const page = berth.page;
    await berth.open('popover');
    // A first run for this account: the consent screen says why, and which password the prompt wants.
    await expect(page.getByRole('heading', { name: 'Set up the Berth helper' })).toBeVisible();
    await expect(page.getByText('Berth’s helper is installed on this machine, but not for your account.', { exact: false })).toBeVisible();
    await page.getByRole('button', { name: 'Install helper (asks for an administrator’s password)' }).click();

    // pkexec → polkitd (rule: yes) → the installer enrols this account beside the other one.
    await berth.open('popover');
    await expect(page.getByText('Helper running', { exact: false }).first()).toBeVisible();

    // Uninstalling from Settings: only this account's enrolment goes; the helper stays for the other.
    await berth.open('settings');
    await page.getByRole('button', { name: 'Uninstall helper…' }).click();
    await expect(page.getByRole('dialog')).toContainText('If other accounts on this computer use the helper, it stays for them');
    await page.getByRole('button', { name: 'Uninstall helper (asks for your password)' }).click();
    await expect(page.getByText('The helper no longer serves your account; it stays installed for the other accounts on this computer.')).toBeVisible();
    await expect(page.getByText('Helper not set up for you').first()).toBeVisible();
    await expect(page.getByRole('button', { name: 'Install helper (asks for an administrator’s password)' }).first()).toBeVisible();
  } finally {
    undo();
  }
});
