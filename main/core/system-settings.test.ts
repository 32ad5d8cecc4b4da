import { lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { cliToolTarget } from '../../common/cli-tools';
import { DEFAULT_SETTINGS } from '../../common/settings/schema';
import { applySystemSettings, linkUserTools, unlinkUserTools } from './system-settings';
import { xdgAutostart } from './login-item';

const APP = '/opt/Berth';

function scratch(): string {
  return mkdtempSync(join(tmpdir(), 'berth-sys-'));
}

describe('user CLI links', () => {
  test('links each tool to this app, idempotently, and removes only its own link', () => {
    const bin = join(scratch(), '.berth/bin');
    linkUserTools(APP, bin);
    linkUserTools(APP, bin);
    expect(readlinkSync(join(bin, 'berth'))).toBe(cliToolTarget(APP, 'berth'));
    expect(lstatSync(bin).mode & 0o777).toBe(0o700);
    unlinkUserTools('/elsewhere/Berth', bin);
    expect(readlinkSync(join(bin, 'berth'))).toBe(cliToolTarget(APP, 'berth'));
    unlinkUserTools(APP, bin);
    expect(() => lstatSync(join(bin, 'berth'))).toThrow(/ENOENT/);
  });

  test('a file of the user at the name is never replaced', () => {
    const bin = join(scratch(), 'bin');
    mkdirSync(bin, { recursive: true });
    writeFileSync(join(bin, 'berth'), 'my own script');
    expect(() => linkUserTools(APP, bin)).toThrow(/exists and is not a link Berth made; move it away first/);
    expect(readFileSync(join(bin, 'berth'), 'utf8')).toBe('my own script');
  });

  test('an older link of ours (another app location) is replaced', () => {
    const bin = join(scratch(), 'bin');
    linkUserTools('/old/Berth', bin);
    linkUserTools(APP, bin);
    expect(readlinkSync(join(bin, 'berth'))).toBe(cliToolTarget(APP, 'berth'));
  });
});

describe('applySystemSettings without a helper', () => {
  test('says each system change waits for the helper, and still links the user tools', async () => {
    const home = scratch();
    const problems = await applySystemSettings({
      keys: ['hostsEntries', 'cliToolsLocation'],
      settings: { ...DEFAULT_SETTINGS, cliToolsLocation: 'user', hostsEntries: false },
      helper: async () => undefined,
      appPath: APP,
      userBinDir: join(home, 'bin'),
    });
    expect(problems).toEqual([
      'Hosts entries saved as off, but the privileged helper is not running; it will apply when the helper is installed.',
    ]);
    expect(readlinkSync(join(home, 'bin/berth'))).toBe(cliToolTarget(APP, 'berth'));
  });

  test('System location without a helper is reported, not silently ignored', async () => {
    const problems = await applySystemSettings({
      keys: ['cliToolsLocation'],
      settings: DEFAULT_SETTINGS,
      helper: async () => undefined,
      appPath: APP,
      userBinDir: join(scratch(), 'bin'),
    });
    expect(problems).toEqual([
      'CLI tools location saved as System, but the privileged helper is not running; it will apply when the helper is installed.',
    ]);
  });
});

describe('xdgAutostart', () => {
  test('writes a desktop entry with each argument quoted, and removes it', () => {
    const config = scratch();
    const item = xdgAutostart(config, ['/usr/bin/node', '/opt/Berth $x/berth.js', 'app']);
    item.set(true);
    const entry = readFileSync(join(config, 'autostart/berth.desktop'), 'utf8');
    expect(entry).toContain('Exec="/usr/bin/node" "/opt/Berth \\$x/berth.js" "app"\n');
    expect(entry).toMatch(/^\[Desktop Entry\]\nType=Application\nName=Berth\n/);
    item.set(false);
    expect(existsSync(join(config, 'autostart/berth.desktop'))).toBe(false);
  });
});
