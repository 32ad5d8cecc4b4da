import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, inject, test } from 'vitest';
import { backendState } from '../../common/api/backend-api';
import { appDir, berthIn, freshHome, spawnInHome, startApp } from '../../test/support/app';
import { finished } from '../../test/support/finished';
import { startHelper } from '../../test/support/processes';
import { safeScratchDir } from '../../test/support/scratch';
import { helloTarget, LOW_PORT, settledHome, sharedHelper } from './backend-test-setup';

/**
 * Settings as users change them: through `berth app` (run as the unprivileged
 * test user with a home of its own, beside the real root helper), from the CLI
 * and the window's API, and what the machine makes of them.
 */
const users = inject('users');
const { withApp } = sharedHelper();
const httpTarget = helloTarget();

describe('settings in berth app, with the CLI through the control socket', () => {
  test('a corrupt settings file is kept aside, defaults are used, and the user is told', async () => {
    const home = freshHome(users.test);
    const dir = join(home, '.config/berth');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeFileSync(join(dir, 'settings.json'), '{"hostsEntries": tru');
    execFileSync('chown', ['-R', `${users.test.uid}:${users.test.gid}`, join(home, '.config')]);
    await withApp(home, async (app) => {
      const state = backendState.parse((await app.call('state.get')).result);
      expect(state.settings.hostsEntries).toBe(true);
      const backup = readdirSync(dir).find((f) => f.startsWith('settings.json.corrupt-'));
      expect(backup).toBeDefined();
      expect(readFileSync(join(dir, backup!), 'utf8')).toBe('{"hostsEntries": tru');
      expect(state.notices.map((n) => n.text).join('\n')).toContain(backup!);
    });
  });

  test('settings through the CLI go through the running app, which shows them at once', async () => {
    const home = freshHome(users.test);
    await withApp(home, async (app) => {
      const set = await berthIn(users.test, home, ['settings', 'set', 'privilegedPortMapping', 'off']);
      expect(set.code).toBe(0);
      const state = backendState.parse((await app.call('state.get')).result);
      expect(state.settings.privilegedPortMapping).toBe(false);
      // With mapping off, a low port is a clear error that says what to enable.
      const low = await app.call('ports.add', { address: '127.0.0.1', port: LOW_PORT + 4, target: { host: '127.0.0.1', port: httpTarget.port } });
      expect(low).toMatchObject({ ok: false, error: { code: 'HELPER_NEEDED', message: expect.stringMatching(/privileged port mapping/i) } });
    });
  });
});

/** A copy of the built app at `app`, with the `berth` launcher an installed app has in resources/bin. */
function copyApp(app: string): void {
  execFileSync('cp', ['-a', appDir(), app]);
  mkdirSync(join(app, 'resources/bin'), { recursive: true, mode: 0o755 });
  writeFileSync(join(app, 'resources/bin/berth'), `#!/bin/sh\nexec ${process.execPath} ${join(app, 'dist/cli/berth.js')} "$@"\n`, { mode: 0o755 });
}

/** A real helper that links `app`'s CLI tools into a scratch link dir, and the test user's `berth app` beside it. */
async function appLinkedBy(home: string, app: string) {
  const safe = safeScratchDir('berth-backend-links');
  const linkDir = join(safe, 'bin');
  mkdirSync(linkDir, { mode: 0o755 });
  const linking = await startHelper({ allowUid: users.test.uid, privateSystemPaths: true, extraArgs: ['--app', app, '--link-dir', linkDir, '--state-dir', join(safe, 'state')] });
  settledHome(home, app);
  const running = await startApp(users.test, home, ['--helper-socket', linking.socketPath], { app });
  return { linkDir, linking, running };
}

describe('the CLI tools location, switched by a user whose app the helper will not link for root', () => {
  /**
   * The app copied into the user's home and owned by them, as when Berth is
   * unpacked in ~/Applications: the helper refuses a system link to it
   * (root would run a program the user can change). The user's link in
   * ~/.berth/bin works before the switch and must work after it.
   */
  test('User -> System refused: the user link still works, the setting stays user, the CLI exits 1 with why and what to do, and the app shows it', async () => {
    const home = freshHome(users.test);
    const app = join(home, 'Berth');
    copyApp(app);
    execFileSync('chown', ['-R', `${users.test.uid}:${users.test.gid}`, app]);
    // The User location, its link made (as Berth makes it).
    const { linkDir, linking, running } = await appLinkedBy(home, app);
    const userLink = join(home, '.berth/bin/berth');
    // The user's own `berth`, through their link: what they type in a shell.
    const berth = (...args: string[]) => finished(spawnInHome(users.test, home, [userLink, ...args]));
    try {
      expect(await finished(spawnInHome(users.test, home, [join(app, 'resources/bin/berth'), 'settings', 'set', 'cliToolsLocation', 'user']))).toMatchObject({ code: 0, stdout: 'cliToolsLocation is already user\n' });
      expect(await berth('settings', 'get', 'cliToolsLocation')).toMatchObject({ code: 0, stdout: 'KEY               VALUE\ncliToolsLocation  user\n' });

      const set = await berth('settings', 'set', 'cliToolsLocation', 'system');
      expect(set.code).toBe(1);
      expect(set.stdout).toBe('');
      expect(set.stderr).toMatch(
        new RegExp(`^berth settings: Your CLI tools stay in ${join(home, '.berth/bin')}, because the helper did not link them into /usr/local/bin: the link would run ${join(app, 'resources/bin/berth')}, but [^\\n]+; to use the System location, install Berth where only root can write \\(for example under /opt\\)\\.\\n$`),
      );
      expect(set.stderr).not.toMatch(/UNSAFE_PATH|[A-Z]{3,}_[A-Z]+/);

      // Never worse off: the same link still runs berth, the setting is still user, no system link was made.
      expect(await berth('settings', 'get', 'cliToolsLocation')).toMatchObject({ code: 0, stdout: 'KEY               VALUE\ncliToolsLocation  user\n' });
      expect(readdirSync(linkDir)).toEqual([]);

      // The app's API: the state shows the location in force, and an error notice with the same sentence.
      const state = backendState.parse((await running.call('state.get')).result);
      expect(state.settings.cliToolsLocation).toBe('user');
      expect(state.notices).toContainEqual(expect.objectContaining({ level: 'error', text: set.stderr.replace(/^berth settings: /, '').trimEnd() }));
      // The window's own call gets the same refusal as a failure, not "set".
      const viaApi = await running.call('settings.set', { key: 'cliToolsLocation', value: 'system' });
      expect(viaApi).toMatchObject({ ok: false, error: { code: 'FAILED', message: expect.stringMatching(/^Your CLI tools stay in /) } });
      const after = backendState.parse((await running.call('state.get')).result);
      expect(after.settings.cliToolsLocation).toBe('user');
      // Refused twice, told once: one notice for the setting, not one per attempt.
      expect(after.notices.filter((n) => n.key === 'setting.cliToolsLocation')).toEqual([
        { key: 'setting.cliToolsLocation', level: 'error', text: set.stderr.replace(/^berth settings: /, '').trimEnd(), detail: null, fix: null },
      ]);
      expect(new Set(after.notices.map((n) => n.text)).size).toBe(after.notices.length);
      expect(await berth('--help')).toMatchObject({ code: 0 });
    } finally {
      await running.stop();
      await linking.stop();
    }
  });

  test('System -> User refused (a file of the user at ~/.berth/bin/berth): the system link still works, the setting stays system, the CLI exits 1 saying why', async () => {
    const home = freshHome(users.test);
    // An app root owns, so the helper links it: the System location works before the switch.
    const app = join(safeScratchDir('berth-backend-app'), 'Berth');
    copyApp(app);
    const { linkDir, linking, running } = await appLinkedBy(home, app);
    const systemLink = join(linkDir, 'berth');
    const berth = (...args: string[]) => finished(spawnInHome(users.test, home, [systemLink, ...args]));
    try {
      const direct = (...args: string[]) => finished(spawnInHome(users.test, home, [join(app, 'resources/bin/berth'), ...args]));
      expect(await direct('settings', 'set', 'cliToolsLocation', 'user')).toMatchObject({ code: 0 });
      expect(await direct('settings', 'set', 'cliToolsLocation', 'system')).toMatchObject({ code: 0, stdout: 'cliToolsLocation set to system\n' });
      expect(await berth('settings', 'get', 'cliToolsLocation')).toMatchObject({ code: 0, stdout: 'KEY               VALUE\ncliToolsLocation  system\n' });
      // The user's own script where the user link would go.
      const mine = join(home, '.berth/bin/berth');
      expect(await finished(spawnInHome(users.test, home, ['sh', '-c', `mkdir -p ${join(home, '.berth/bin')} && echo 'my own script' > ${mine}`]))).toMatchObject({ code: 0 });

      const set = await berth('settings', 'set', 'cliToolsLocation', 'user');
      expect(set).toMatchObject({
        code: 1,
        stdout: '',
        stderr: `berth settings: Your CLI tools stay in the system location (/usr/local/bin), because they could not be linked into ${join(home, '.berth/bin')}: ${mine} exists and is not a link Berth made; move it away first.\n`,
      });
      // Never worse off: the system link still runs berth, the setting is still system, the user's file is untouched.
      expect(await berth('settings', 'get', 'cliToolsLocation')).toMatchObject({ code: 0, stdout: 'KEY               VALUE\ncliToolsLocation  system\n' });
      expect(readFileSync(mine, 'utf8')).toBe('my own script\n');
      const state = backendState.parse((await running.call('state.get')).result);
      expect(state.settings.cliToolsLocation).toBe('system');
      expect(state.notices).toContainEqual(expect.objectContaining({ level: 'error', text: set.stderr.replace(/^berth settings: /, '').trimEnd() }));
    } finally {
      await running.stop();
      await linking.stop();
    }
  });
});
