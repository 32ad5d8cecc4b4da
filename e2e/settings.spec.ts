import { lstatSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { cliToolTarget } from '../common/cli-tools';
import { answerPrompts } from './support/prompt';
import { expect, test, type Berth } from './support/fixtures';
import { APP, berthOnPath, isListening, managePolicy, startTarget } from './support/machine';

const DAY = 24 * 3600 * 1000;
const iso = (ms: number): string => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');

async function installThroughTheApp(berth: Berth): Promise<void> {
  const page = berth.page;
  await berth.open('popover');
  await page.getByRole('button', { name: 'Install helper (asks for your password)' }).click();
  await berth.open('popover');
  await expect(page.getByText('Helper running', { exact: false }).first()).toBeVisible();
}

/** Where a link points, or null while there is none: expect.poll fails at once on a throw, it does not retry it. */
function linkTarget(path: string): string | null {
  return lstatSync(path, { throwIfNoEntry: false })?.isSymbolicLink() ? readlinkSync(path) : null;
}

function berthBlock(): boolean {
  return readFileSync('/etc/hosts', 'utf8').includes('# BEGIN berth');
}

test('settings: CLI tools location, hosts entries, and uninstall from settings', async ({ berth }) => {
  const undo = answerPrompts(berth.user, 'YES');
  try {
    await installThroughTheApp(berth);
    const page = berth.page;
    await berth.open('settings');
    await expect(page.getByRole('heading', { name: 'Settings' })).toBeVisible();
    // Installing applied the defaults: System links and the hosts block.
    expect(readlinkSync('/usr/local/bin/berth')).toBe(cliToolTarget(APP, 'berth'));
    expect(berthBlock()).toBe(true);
    // The link works: the packaged CLI, typed by name, sees the helper the app installed.
    const status = await berthOnPath(berth.user, berth.home, ['status', '--json']);
    expect(status).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(status.stdout)).toMatchObject({ helper: { state: 'running' }, cliTools: { location: 'system', linked: ['berth'] } });
    // The helper's audit log, read for a person: what it did on install.
    // The link and the hosts block are there (checked above), so their entries are written: read the log now.
    await page.getByRole('button', { name: 'Refresh audit log' }).click();
    const audit = page.getByRole('region', { name: 'Audit log entries' });
    await expect(audit.getByRole('row').filter({ hasText: 'Linked CLI tools' }).first()).toContainText('berth');
    await expect(audit.getByRole('row').filter({ hasText: 'Added hosts entries' }).first()).toContainText('Done');

    await page.getByRole('radio', { name: /^User/ }).check();
    // The radio shows the choice at once; the link follows when the backend has applied it.
    await expect.poll(() => linkTarget(join(berth.home, '.berth/bin/berth'))).toBe(cliToolTarget(APP, 'berth'));
    await expect.poll(() => lstatSync('/usr/local/bin/berth', { throwIfNoEntry: false })).toBeUndefined();

    await page.getByRole('checkbox', { name: /Hosts entries/ }).click();
    await expect.poll(berthBlock).toBe(false);
    await page.getByRole('checkbox', { name: /Hosts entries/ }).click();
    await expect.poll(berthBlock).toBe(true);

    // Escape dismisses the confirmation and changes nothing; asked again, it confirms.
    await page.getByRole('button', { name: 'Uninstall helper…' }).click();
    await expect(page.getByRole('dialog', { name: 'Uninstall the helper?' })).toBeVisible();
    await page.keyboard.press('Escape');
    await expect(page.getByRole('dialog')).toHaveCount(0);
    await expect(page.getByRole('button', { name: 'Uninstall helper…' })).toHaveAttribute('aria-expanded', 'false');
    expect(berthBlock()).toBe(true);
    await page.getByRole('button', { name: 'Uninstall helper…' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Uninstall helper (asks for your password)' }).click();
    await berth.open('popover');
    await expect(page.getByText('Helper not installed', { exact: false }).first()).toBeVisible();
    expect(berthBlock()).toBe(false);
  } finally {
    undo();
  }
});

test('settings under an organization policy: the locked settings are shown locked, the allowlist read-only, and a port the policy forbids closes', async ({ berth }) => {
  const undo = answerPrompts(berth.user, 'YES');
  const target = await startTarget('hello through Berth');
  let policy: { close(): Promise<void> } | undefined;
  try {
    await installThroughTheApp(berth);
    let page = berth.page;
    await page.getByRole('button', { name: 'Add port' }).click();
    await page.getByLabel('Listen port').fill('80');
    await page.getByLabel('Target port').fill(String(target.port));
    await page.getByRole('button', { name: 'Publish port' }).click();
    await expect(page.getByRole('listitem').filter({ hasText: '127.0.0.1:80' })).toContainText('listening', { ignoreCase: true });
    expect(isListening('127.0.0.1', 80)).toBe(true);

    policy = await managePolicy(berth.user, {
      organization: 'Example Corp',
      version: 3,
      issued: iso(Date.now() - DAY),
      expires: iso(Date.now() + 365 * DAY),
      allowedRegistries: ['registry.example.com/team'],
      lockedSettings: { hostsEntries: true, privilegedPortMapping: false },
      portRules: { deny: [25], wildcardAddresses: false },
    });
    await berth.restart();
    page = berth.page; // a restart opens a new page
    await berth.open('settings');
    await expect(page.getByText('Locked by Example Corp', { exact: false }).first()).toBeVisible();
    await expect(page.getByRole('checkbox', { name: /Hosts entries/ })).toBeDisabled();
    await expect(page.getByRole('checkbox', { name: /Privileged port mapping/ })).toBeDisabled();
    await expect(page.getByRole('checkbox', { name: /Privileged port mapping/ })).not.toBeChecked();
    await expect(page.getByText('registry.example.com/team')).toBeVisible();
    const ports = page.getByRole('list', { name: 'Ports' });
    await expect(ports).toContainText('Denied ports: 25');
    await expect(ports).toContainText('Every address (0.0.0.0, ::): not allowed');

    // The mapping is kept, blocked by the organization with the reason, and port 80 is free: the policy is in force.
    await berth.open('popover');
    const row = page.getByRole('listitem').filter({ hasText: '127.0.0.1:80' });
    await expect(row).toContainText('Blocked by Example Corp');
    await expect(row).not.toContainText('Waiting');
    await expect(row).toContainText('turned off by Example Corp policy v3');
    await expect.poll(() => isListening('127.0.0.1', 80)).toBe(false);
  } finally {
    await policy?.close();
    await target.close();
    undo();
  }
});
