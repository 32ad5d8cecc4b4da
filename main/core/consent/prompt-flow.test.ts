import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, inject, test } from 'vitest';
import { backendState } from '../../../common/api/backend-api';
import { BERTH_VERSION } from '../../../common/app-version';
import { freshHome, startApp } from '../../../test/support/app';
import { setPolkitRule, startPolkit } from '../../../test/support/polkit';
import { startHelper, type HelperProcess } from '../../../test/support/processes';
import { SETTLED, sharedHelper } from '../backend-test-setup';

/**
 * The consent screen's choice, the administrator prompt and limited mode
 * (prompt-flow.ts) as users meet them: `berth app` as the unprivileged test
 * user with a home of its own, the real root helper, and the real prompt
 * (pkexec through polkitd).
 */
const users = inject('users');
const { withApp } = sharedHelper();

describe('the consent screen\'s "Not now" (limited mode)', () => {
  test('consent "Not now" and a declined update are remembered across restarts', async () => {
    const home = freshHome(users.test);
    // The System location, which the running helper serves: "Not now" must leave it be.
    mkdirSync(join(home, '.config/berth'), { recursive: true, mode: 0o700 });
    writeFileSync(join(home, '.config/berth/settings.json'), JSON.stringify({ ...(JSON.parse(SETTLED) as object), cliToolsLocation: 'system' }));
    await withApp(home, async (app) => {
      expect(await app.call('consent.decide', { choice: 'limited' })).toEqual({ ok: true, result: null });
      expect(await app.call('helper.declineUpdate')).toEqual({ ok: true, result: { ok: true } });
    });
    await withApp(home, async (app) => {
      const state = backendState.parse((await app.call('state.get')).result);
      expect(state.settings.consent).toBe('limited');
      expect(state.settings.helperUpdateAskedFor).toBe(BERTH_VERSION);
      // A helper runs for this account here: its System links work, so "Not now" moves nothing.
      expect(state.settings.cliToolsLocation).toBe('system');
    });
  });

  test('"Not now" with no helper: the CLI tools go in ~/.berth/bin, where the limited-mode card and Settings both say', async () => {
    const home = freshHome(users.test);
    const app = await startApp(users.test, home, ['--helper-socket', join(home, 'no-helper.sock')]);
    try {
      expect(backendState.parse((await app.call('state.get')).result).capabilities.helper.state).toBe('not-installed');
      expect(await app.call('consent.decide', { choice: 'limited' })).toEqual({ ok: true, result: null });
      const state = backendState.parse((await app.call('state.get')).result);
      expect(state.settings).toMatchObject({ consent: 'limited', cliToolsLocation: 'user' });
      expect(state.capabilities.cliTools).toMatchObject({ location: 'user', dir: join(home, '.berth/bin'), linked: ['berth'] });
      expect(state.notices.filter((n) => n.level !== 'info')).toEqual([]);
    } finally {
      await app.stop();
    }
  });
});

describe('notices: one per situation, and only while it is true', () => {
  test("a refused prompt (real pkexec and polkitd) is one notice in one sentence; asking again and a setting that waits for the helper add no second one; an administrator's install clears both", async () => {
    await startPolkit();
    const undo = setPolkitRule(users.test.name, 'NO');
    // The app's helper socket, where no helper serves yet.
    const dir = mkdtempSync(join(tmpdir(), 'berth-helper-'));
    chmodSync(dir, 0o755);
    const home = freshHome(users.test);
    const app = await startApp(users.test, home, ['--helper-socket', join(dir, 'helper.sock')]);
    let late: HelperProcess | undefined;
    const state = async () => backendState.parse((await app.call('state.get')).result);
    try {
      // Asked twice, refused twice (the fixture app's folder is not root's alone: confirmed, so polkit is asked).
      for (let i = 0; i < 2; i++) {
        expect(await app.call('helper.install', { allowUnsafeLocation: true })).toMatchObject({ ok: true, result: { kind: 'not-authorized' } });
      }
      // A setting the helper would apply, changed twice while none runs.
      for (const value of [false, true]) expect(await app.call('settings.set', { key: 'hostsEntries', value })).toMatchObject({ ok: true });
      const refused = await state();
      expect(refused.settings.consent).toBe('limited');
      expect(refused.capabilities.helper.state).not.toBe('running');
      expect(refused.notices).toEqual([
        {
          key: 'helper.install',
          level: 'warning',
          text: 'Your account is not allowed to run this as administrator; ask an administrator to run it for you, or to set Berth up in user mode for your account (berth-helper install --user NAME, run as root).',
          detail: null,
          fix: null,
        },
        {
          key: 'setting.hostsEntries',
          level: 'warning',
          text: 'Hosts entries saved as on, but the privileged helper is not running; it will apply when the helper is installed.',
          detail: null,
          fix: null,
        },
      ]);
      // pkexec's own words never reach the screen.
      expect(JSON.stringify(refused.notices)).not.toMatch(/Error executing command|incident has been reported/);

      // An administrator installs the helper behind the app's back: it serves on the app's socket.
      late = await startHelper({ allowUid: users.test.uid, dir });
      expect(await app.call('capabilities.refresh')).toMatchObject({ ok: true, result: { helper: { state: 'running' } } });
      const running = await state();
      expect(running.capabilities.helper.state).toBe('running');
      expect(running.notices).toEqual([]);

      // A dismissed notice is gone for every window; an unknown key changes nothing.
      expect(await app.call('notices.dismiss', { key: 'no-such-notice' })).toEqual({ ok: true, result: { ok: true } });
      expect((await state()).notices).toEqual([]);
    } finally {
      undo();
      await app.stop();
      await late?.stop();
    }
  });
});
