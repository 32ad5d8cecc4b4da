import { execFileSync } from 'node:child_process';
import { chownSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, inject, test } from 'vitest';
import { cliToolTarget } from '../../common/cli-tools';
import { DEFAULT_SETTINGS, type Settings } from '../../common/settings/schema';
import { startHelper, type HelperProcess } from '../../test/support/processes';
import { safeScratchDir } from '../../test/support/scratch';
import { HelperClient } from '../helper-client';
import { applySystemSettings, limitedModeCliTools, linkUserTools, unlinkUserTools } from './system-settings';
import { loginItemState, MENU_BAR_LOGIN, xdgAutostart } from './login-item';

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
    const { problems } = await applySystemSettings({
      keys: ['hostsEntries', 'cliToolsLocation'],
      settings: { ...DEFAULT_SETTINGS, cliToolsLocation: 'user', hostsEntries: false },
      helper: async () => undefined,
      appPath: APP,
      userBinDir: join(home, 'bin'),
    });
    expect(problems).toEqual([
      { setting: 'hostsEntries', text: 'Hosts entries saved as off, but the privileged helper is not running; it will apply when the helper is installed.', needsHelper: true },
    ]);
    expect(readlinkSync(join(home, 'bin/berth'))).toBe(cliToolTarget(APP, 'berth'));
  });

  test('System location without a helper is reported, not silently ignored', async () => {
    const { problems } = await applySystemSettings({
      keys: ['cliToolsLocation'],
      settings: DEFAULT_SETTINGS,
      helper: async () => undefined,
      appPath: APP,
      userBinDir: join(scratch(), 'bin'),
    });
    expect(problems).toEqual([
      { setting: 'cliToolsLocation', text: 'CLI tools location saved as System, but the privileged helper is not running; it will apply when the helper is installed.', needsHelper: true },
    ]);
  });
});

/**
 * Switching the CLI location with the real root helper: the new links are
 * made first and the old ones removed only once they exist. The helper
 * refuses a system link to an app that is not root's alone (UNSAFE_PATH).
 */
describe('switching the CLI tools location through the real helper', () => {
  const users = inject('users');
  const stops: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const stop of stops.splice(0).reverse()) await stop();
  });

  /** An app folder whose berth tool prints a line, so "the link works" is shown by running it. */
  function appAt(parent: string): string {
    const app = join(parent, 'Berth');
    mkdirSync(join(app, 'resources/bin'), { recursive: true, mode: 0o755 });
    writeFileSync(cliToolTarget(app, 'berth'), '#!/bin/sh\necho berth tool ran\n', { mode: 0o755 });
    return app;
  }

  async function machine(app: string): Promise<{ linkDir: string; userBin: string; apply(to: Settings['cliToolsLocation']): ReturnType<typeof applySystemSettings> }> {
    const safe = safeScratchDir('berth-cli-location');
    const linkDir = join(safe, 'bin');
    mkdirSync(linkDir, { mode: 0o755 });
    const helper: HelperProcess = await startHelper({
      allowUid: users.test.uid,
      extraArgs: ['--app', app, '--link-dir', linkDir, '--state-dir', join(safe, 'state')],
    });
    stops.push(() => helper.stop());
    const userBin = join(scratch(), '.berth/bin');
    return {
      linkDir,
      userBin,
      apply: (to) =>
        applySystemSettings({
          keys: ['cliToolsLocation'],
          settings: { ...DEFAULT_SETTINGS, cliToolsLocation: to },
          helper: () => HelperClient.connect(helper.socketPath),
          appPath: app,
          userBinDir: userBin,
        }),
    };
  }

  const runs = (link: string): string => execFileSync(link, { encoding: 'utf8' });

  test('User -> System refused (an app the user owns): the working user link stays, and the refusal says why and what to do', async () => {
    const home = scratch();
    chownSync(home, users.test.uid, users.test.gid);
    const app = appAt(home);
    execFileSync('chown', ['-R', `${users.test.uid}:${users.test.gid}`, app]);
    const m = await machine(app);
    await m.apply('user');
    expect(runs(join(m.userBin, 'berth'))).toBe('berth tool ran\n');

    const report = await m.apply('system');
    // Never worse off: the user link still runs the tool, and no system link was made.
    expect(runs(join(m.userBin, 'berth'))).toBe('berth tool ran\n');
    expect(readdirSync(m.linkDir)).toEqual([]);
    expect(report.refused).toEqual({ cliToolsLocation: 'user', reason: expect.stringMatching(new RegExp(`^Your CLI tools stay in ${m.userBin}, because the helper did not link them into /usr/local/bin: the link would run ${cliToolTarget(app, 'berth')}, but .+; to use the System location, install Berth where only root can write \\(for example under /opt\\)\\.$`)) });
    expect(report.refused!.reason).not.toMatch(/UNSAFE_PATH|[A-Z]{3,}_[A-Z]+/);
    expect(report.problems).toEqual([]);
  });

  test('System refused with no user link yet (the first try, right after the helper is installed): the user link is made, so User is true', async () => {
    const home = scratch();
    const app = appAt(home);
    execFileSync('chown', ['-R', `${users.test.uid}:${users.test.gid}`, home]);
    const m = await machine(app);
    const report = await m.apply('system');
    expect(runs(join(m.userBin, 'berth'))).toBe('berth tool ran\n');
    expect(readdirSync(m.linkDir)).toEqual([]);
    expect(report).toMatchObject({ problems: [], refused: { cliToolsLocation: 'user', reason: expect.stringMatching(/^Your CLI tools stay in /) } });
  });

  test('User -> System allowed (an app root owns): the system link is made first, then the user link removed', async () => {
    const app = appAt(safeScratchDir('berth-app'));
    const m = await machine(app);
    await m.apply('user');
    const report = await m.apply('system');
    expect(runs(join(m.linkDir, 'berth'))).toBe('berth tool ran\n');
    expect(existsSync(join(m.userBin, 'berth'))).toBe(false);
    expect(report).toEqual({ problems: [] });
  });

  test('System -> User refused (a file of the user at ~/.berth/bin/berth): the system link stays, and the refusal says why and what to do', async () => {
    const app = appAt(safeScratchDir('berth-app'));
    const m = await machine(app);
    await m.apply('system');
    expect(runs(join(m.linkDir, 'berth'))).toBe('berth tool ran\n');
    mkdirSync(m.userBin, { recursive: true });
    writeFileSync(join(m.userBin, 'berth'), 'my own script');

    const report = await m.apply('user');
    // Never worse off: the system link still runs the tool, and the user's file is untouched.
    expect(runs(join(m.linkDir, 'berth'))).toBe('berth tool ran\n');
    expect(readFileSync(join(m.userBin, 'berth'), 'utf8')).toBe('my own script');
    expect(report).toEqual({
      problems: [],
      refused: {
        cliToolsLocation: 'system',
        reason: `Your CLI tools stay in the system location (/usr/local/bin), because they could not be linked into ${m.userBin}: ${join(m.userBin, 'berth')} exists and is not a link Berth made; move it away first.`,
      },
    });
  });

  test('System -> User allowed: the user link is made first, then the system link removed', async () => {
    const app = appAt(safeScratchDir('berth-app'));
    const m = await machine(app);
    await m.apply('system');
    const report = await m.apply('user');
    expect(runs(join(m.userBin, 'berth'))).toBe('berth tool ran\n');
    expect(readdirSync(m.linkDir)).toEqual([]);
    expect(report).toEqual({ problems: [] });
  });
});

describe('xdgAutostart', () => {
  test('writes a desktop entry with each argument quoted, and removes it', () => {
    const config = scratch();
    const item = xdgAutostart(config, ['/usr/bin/node', '/opt/Berth $x/berth.js', 'app'], MENU_BAR_LOGIN);
    expect(item.description).toBe(MENU_BAR_LOGIN);
    item.set(true);
    const entry = readFileSync(join(config, 'autostart/berth.desktop'), 'utf8');
    expect(entry).toContain('Exec="/usr/bin/node" "/opt/Berth \\$x/berth.js" "app"\n');
    expect(entry).toMatch(/^\[Desktop Entry\]\nType=Application\nName=Berth\n/);
    item.set(false);
    expect(existsSync(join(config, 'autostart/berth.desktop'))).toBe(false);
  });
});

describe('loginItemState: offered only where it works', () => {
  test('with a login item: available, and says what it does', () => {
    expect(loginItemState(xdgAutostart('/nonexistent', ['/x'], MENU_BAR_LOGIN), 'linux')).toEqual({ available: true, description: MENU_BAR_LOGIN });
  });

  test('without one (browser mode on macOS): not available, and says why and what to do', () => {
    expect(loginItemState(undefined, 'darwin')).toEqual({
      available: false,
      description: 'Berth in a browser cannot start itself at login on macOS; use the Berth app, or start it with "berth app".',
    });
  });
});

describe('limitedModeCliTools', () => {
  const system: Settings = { ...DEFAULT_SETTINGS, cliToolsLocation: 'system' };

  test.each(['not-installed', 'not-enrolled', 'user-mode'] as const)('without a helper for this account (%s), the tools move to the User location', (helper) => {
    expect(limitedModeCliTools(system, {}, helper)).toEqual({ key: 'cliToolsLocation', value: 'user' });
  });

  test('nothing changes where a helper links them, the tools are in User already, or a policy holds the location', () => {
    expect(limitedModeCliTools(system, {}, 'running')).toBeNull();
    expect(limitedModeCliTools(system, {}, 'needs-update')).toBeNull();
    expect(limitedModeCliTools({ ...system, cliToolsLocation: 'user' }, {}, 'not-installed')).toBeNull();
    expect(limitedModeCliTools(system, { cliToolsLocation: 'system' }, 'not-installed')).toBeNull();
  });
});
