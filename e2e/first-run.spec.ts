import { answerPrompts } from './support/prompt';
import { expect, test } from './support/fixtures';
import { httpGet, isListening, isUdpBound, startTarget, startUdpTarget, udpAsk } from './support/machine';
import { expectNotices } from './support/notices';

test('first run: consent, install through the real prompt, publish 127.0.0.1:80, a real request, remove; then 127.0.0.1:53/udp, a real datagram, remove', async ({ berth }) => {
  const undo = answerPrompts(berth.user, 'YES');
  const target = await startTarget('hello through Berth');
  const dns = await startUdpTarget('answer to');
  try {
    const page = berth.page;
    // The menu-bar window's real size: both choices must be there without scrolling.
    await page.setViewportSize({ width: 380, height: 560 });
    await berth.open('popover');
    // First run: the consent screen comes before any OS prompt.
    await expect(page.getByRole('heading', { name: 'Set up the Berth helper' })).toBeVisible();
    await expect(page.getByText('Nothing else gets root.')).toBeVisible();
    const install = page.getByRole('button', { name: 'Install helper (asks for your password)' });
    await expect(install).toBeInViewport({ ratio: 1 });
    await expect(page.getByRole('button', { name: 'Not now — limited mode' })).toBeInViewport({ ratio: 1 });
    expect(await page.evaluate(() => window.scrollY)).toBe(0);
    // The explanation is one click away, each duty and why.
    await page.getByText('What the helper does, and why').click();
    await expect(page.getByRole('heading', { name: 'Ports below 1024' })).toBeVisible();
    await expect(page.getByText('berth.internal (a fixed name for this machine')).toBeVisible();
    await install.click();

    // pkexec → polkitd (rule: yes) → the real installer, as root; the helper runs.
    await berth.open('popover');
    await expect(page.getByText('Helper running', { exact: false }).first()).toBeVisible();
    // Installed: nothing left saying it is not (no notice, nothing twice).
    await expectNotices(page, []);

    // Escape closes the add-port form, as Cancel does, and the keyboard goes back to "Add port".
    const addPort = page.getByRole('button', { name: 'Add port' });
    await addPort.click();
    await expect(page.getByRole('form', { name: 'Add a port' })).toBeVisible();
    await page.getByLabel('Listen port').press('Escape');
    await expect(page.getByRole('form', { name: 'Add a port' })).toHaveCount(0);
    await expect(addPort).toBeFocused();
    await expect(addPort).toHaveAttribute('aria-expanded', 'false');

    await addPort.click();
    await page.getByLabel('Listen port').fill('80');
    await page.getByLabel('Target port').fill(String(target.port));
    await page.getByRole('button', { name: 'Publish port' }).click();
    const row = page.getByRole('listitem').filter({ hasText: '127.0.0.1:80' });
    await expect(row).toContainText('helper');
    await expect(row).toContainText('listening', { ignoreCase: true });

    // A real request from outside the page, through the port the helper bound.
    expect(await httpGet('http://127.0.0.1:80/')).toEqual({ status: 200, body: 'hello through Berth' });

    await row.getByRole('button', { name: 'Remove 127.0.0.1:80' }).click();
    await expect(page.getByText('No published ports yet.')).toBeVisible();
    expect(isListening('127.0.0.1', 80)).toBe(false);

    // UDP: Docker's /udp after the port; the helper binds 53/udp, and a real datagram is answered from it.
    await page.getByRole('button', { name: 'Add port' }).click();
    await page.getByLabel('Listen port').fill('53/udp');
    await page.getByLabel('Target port').fill(String(dns.port));
    await page.getByRole('button', { name: 'Publish port' }).click();
    const udpRow = page.getByRole('listitem').filter({ hasText: '127.0.0.1:53/udp' });
    await expect(udpRow).toContainText('helper');
    await expect(udpRow).toContainText('listening', { ignoreCase: true });
    expect(await udpAsk(53, 'example.internal?')).toEqual({ text: 'answer to example.internal?', from: '127.0.0.1:53' });
    await udpRow.getByRole('button', { name: 'Remove 127.0.0.1:53/udp' }).click();
    await expect(page.getByText('No published ports yet.')).toBeVisible();
    expect(isUdpBound('127.0.0.1', 53)).toBe(false);
  } finally {
    dns.close();
    await target.close();
    undo();
  }
});
