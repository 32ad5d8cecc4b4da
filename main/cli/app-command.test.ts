import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, inject, test } from 'vitest';
import { installLayout } from '../../common/paths';
import { userPaths } from '../../common/user-paths';
import { berthIn, freshHome, startApp } from '../../test/support/app';
import { Backend } from '../core/backend';
import { BROWSER_MODE_LOGIN } from '../core/login-item';

const users = inject('users');

describe('berth app: a second start, and start at login in browser mode', () => {
  test('a second "berth app" says how to open the running one; start at login writes an entry that starts it, and is offered as what it does', async () => {
    const home = freshHome(users.test);
    const app = await startApp(users.test, home);
    try {
      const again = await berthIn(users.test, home, ['app']);
      expect(again).toMatchObject({ code: 0, stdout: 'Berth is already running. Open its window with: berth app --open\n' });

      // The event-loop delay monitor is off unless asked for: an idle app is not woken every few ms.
      expect((await app.call('app.metrics')).result).toMatchObject({ loopDelay: null, memory: { rssBytes: expect.any(Number) } });

      const state = (await app.call('state.get')).result as { startAtLogin: unknown };
      expect(state.startAtLogin).toEqual({ available: true, description: BROWSER_MODE_LOGIN });

      const entry = join(home, '.config/autostart/berth.desktop');
      expect(await berthIn(users.test, home, ['settings', 'set', 'startAtLogin', 'on'])).toMatchObject({ code: 0 });
      // The entry runs this Berth's own `berth app`: at login the backend starts and the ports come back.
      expect(readFileSync(entry, 'utf8')).toMatch(/^Exec=".+" ".+\/dist\/cli\/berth\.js" "app"$/m);
      expect(await berthIn(users.test, home, ['settings', 'set', 'startAtLogin', 'off'])).toMatchObject({ code: 0 });
      expect(existsSync(entry)).toBe(false);
    } finally {
      await app.stop();
    }
  });

  test('with BERTH_LOOP_DELAY=1 the app measures its event-loop delay and reports it with its memory (the benchmark reads both)', async () => {
    const home = freshHome(users.test);
    const app = await startApp(users.test, home, [], { env: { BERTH_LOOP_DELAY: '1' } });
    try {
      const first = (await app.call('app.metrics', { reset: true })) as { ok: boolean; result: { loopDelay: { samples: number; resolutionMs: number }; memory: { rssBytes: number } } };
      expect(first.ok).toBe(true);
      expect(first.result.loopDelay.resolutionMs).toBe(5);
      expect(first.result.memory.rssBytes).toBeGreaterThan(0);
      // Bad params are refused by the one gate, as for every method.
      expect(await app.call('app.metrics', { reset: 'yes' })).toMatchObject({ ok: false, error: { code: 'INVALID' } });
      expect(app.stderr()).toContain('event-loop delay monitor on');
    } finally {
      await app.stop();
    }
  });

  test('where nothing can start Berth at login, turning it on is refused with the reason, and nothing is saved', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-login-'));
    const paths = userPaths({ home: dir, platform: 'linux', env: {} });
    const backend = await Backend.start({
      paths,
      layout: { ...installLayout(), socketPath: join(dir, 'no-helper.sock'), socketDir: dir },
      appPath: '/opt/Berth',
      log: { info: () => {}, warn: () => {} },
      hostsPath: join(dir, 'hosts'),
      // No loginItem: browser mode on macOS.
    });
    try {
      expect(backend.state().startAtLogin.available).toBe(false);
      const reply = await backend.call('settings.set', { key: 'startAtLogin', value: true });
      expect(reply).toEqual({
        ok: false,
        error: { code: 'FAILED', message: `Berth in a browser cannot start itself at login on Linux; use the Berth app, or start it with "berth app".` },
      });
      expect(backend.state().settings.startAtLogin).toBe(false);
      expect(existsSync(paths.settingsPath)).toBe(false);
      // Off is always fine: nothing to carry out.
      expect(await backend.call('settings.set', { key: 'startAtLogin', value: false })).toMatchObject({ ok: true });
    } finally {
      await backend.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
