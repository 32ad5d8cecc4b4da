import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer as createHttpServer, type Server } from 'node:http';
import { connect, createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import { backendState } from '../../common/api/backend-api';
import { BERTH_VERSION } from '../../common/app-version';
import { appDir, berthIn, freshHome, spawnInHome, startApp, type RunningApp } from '../../test/support/app';
import { finished } from '../../test/support/finished';
import { LAUNCH_REFUSED } from '../../common/api/browser-link';
import { setPolkitRule, startPolkit } from '../../test/support/polkit';
import { runFixtureAs, startHelper, type HelperProcess } from '../../test/support/processes';
import { safeScratchDir } from '../../test/support/scratch';

/**
 * The backend as users run it: `berth app` as the unprivileged test user with
 * a home of its own, the real root helper, the CLI through the control
 * socket, and the browser bridge over real HTTP.
 */
const users = inject('users');
let helper: HelperProcess;
let target: Server;
let targetPort: number;

/** A port below 1024 no other test file uses, so files running at once do not collide. */
const LOW_PORT = 481;

beforeAll(async () => {
  helper = await startHelper({ allowUid: users.test.uid, privateSystemPaths: true });
  target = createHttpServer((_req, res) => res.end('hello from the target'));
  await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', resolve));
  targetPort = (target.address() as AddressInfo).port;
});

afterAll(async () => {
  await helper.stop();
  target.close();
});

/**
 * Settings this machine already matches, unless the test wrote its own: no hosts
 * entries, and the User CLI location with its links in place. The backend carries
 * out its settings whenever they differ (reconcile.ts), so a test about something
 * else starts from a state with nothing to carry out.
 */
const SETTLED = '{"hostsEntries": false, "cliToolsLocation": "user"}';

function settledHome(home: string, app = appDir()): void {
  const config = join(home, '.config/berth');
  mkdirSync(config, { recursive: true, mode: 0o700 });
  if (!existsSync(join(config, 'settings.json'))) writeFileSync(join(config, 'settings.json'), SETTLED);
  const bin = join(home, '.berth/bin');
  mkdirSync(bin, { recursive: true, mode: 0o700 });
  // lstat, not existsSync: a link of ours may point at a program this test app does not have.
  if (!lstatSync(join(bin, 'berth'), { throwIfNoEntry: false })) symlinkSync(join(app, 'resources/bin/berth'), join(bin, 'berth'));
  execFileSync('chown', ['-hR', `${users.test.uid}:${users.test.gid}`, join(home, '.config'), join(home, '.berth')]);
}

async function withApp<T>(home: string, fn: (app: RunningApp) => Promise<T>): Promise<T> {
  settledHome(home);
  const app = await startApp(users.test, home, ['--helper-socket', helper.socketPath]);
  try {
    return await fn(app);
  } finally {
    await app.stop();
  }
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

describe('berth app, with the CLI through the control socket', () => {
  test(`publishes 127.0.0.1:${LOW_PORT} through the helper; requests reach the target; rm frees the port`, async () => {
    const home = freshHome(users.test);
    await withApp(home, async () => {
      const added = await berthIn(users.test, home, ['ports', 'add', `127.0.0.1:${LOW_PORT}=127.0.0.1:${targetPort}`]);
      expect(added.stderr).toBe('');
      expect(added.stdout).toBe(`Published 127.0.0.1:${LOW_PORT} -> 127.0.0.1:${targetPort} (bound by the helper).\n`);
      expect(added.code).toBe(0);
      const res = await fetch(`http://127.0.0.1:${LOW_PORT}/`);
      expect(await res.text()).toBe('hello from the target');
      expect(helper.auditEntries()).toContainEqual(expect.objectContaining({ op: 'bindPort', result: 'ok', args: { address: '127.0.0.1', port: LOW_PORT, protocol: 'tcp' } }));

      const listed = await berthIn(users.test, home, ['ports', 'ls', '--json']);
      const [status] = JSON.parse(listed.stdout) as Array<{ via: string; state: string; connections: { total: number } }>;
      expect(status).toMatchObject({ via: 'helper', state: 'listening' });
      expect(status!.connections.total).toBeGreaterThanOrEqual(1);

      // Refused: a sentence for people on stderr, no code in it; the code for scripts in --json.
      const again = await berthIn(users.test, home, ['ports', 'add', `127.0.0.1:${LOW_PORT}=127.0.0.1:${targetPort}`]);
      expect(again).toMatchObject({ code: 1, stdout: '', stderr: `berth ports: 127.0.0.1:${LOW_PORT} is already published (to 127.0.0.1:${targetPort})\n` });
      const againJson = await berthIn(users.test, home, ['ports', 'add', `127.0.0.1:${LOW_PORT}=127.0.0.1:${targetPort}`, '--json']);
      expect(againJson.code).toBe(1);
      expect(JSON.parse(againJson.stdout)).toEqual({ error: { code: 'CONFLICT', message: `127.0.0.1:${LOW_PORT} is already published (to 127.0.0.1:${targetPort})` } });
      expect(againJson.stderr).toBe(again.stderr);

      const removed = await berthIn(users.test, home, ['ports', 'rm', `127.0.0.1:${LOW_PORT}`]);
      expect(removed.stdout).toBe(`Removed 127.0.0.1:${LOW_PORT}; the port is free.\n`);
      expect(await portIsFree(LOW_PORT)).toBe(true);
    });
  });

  test("Docker's form through the CLI: -p HOST_PORT:TARGET_PORT is said as understood, then published; a self-forwarding mapping is refused and nothing binds", async () => {
    const home = freshHome(users.test);
    await withApp(home, async (app) => {
      const added = await berthIn(users.test, home, ['ports', 'add', '-p', `${LOW_PORT + 2}:${targetPort}/tcp`]);
      expect(added.stderr).toBe('');
      expect(added.stdout).toBe(
        `Understood "${LOW_PORT + 2}:${targetPort}/tcp" as 127.0.0.1:${LOW_PORT + 2} → 127.0.0.1:${targetPort}.\n` +
          `Published 127.0.0.1:${LOW_PORT + 2} -> 127.0.0.1:${targetPort} (bound by the helper).\n`,
      );
      expect(added.code).toBe(0);
      expect(await (await fetch(`http://127.0.0.1:${LOW_PORT + 2}/`)).text()).toBe('hello from the target');

      // The attack of issue 13: 8089=8089 plus one request made ~10,000 connections. Through the API (no CLI parser in the way) too.
      const loop = await app.call('ports.add', { address: '0.0.0.0', port: LOW_PORT + 3, target: { host: 'localhost', port: LOW_PORT + 3 } });
      expect(loop).toMatchObject({ ok: false, error: { code: 'INVALID', message: expect.stringMatching(/forwards to itself/) } });
      const cli = await berthIn(users.test, home, ['ports', 'add', `${LOW_PORT + 3}:${LOW_PORT + 3}`]);
      expect(cli.code).toBe(64);
      expect(cli.stderr).toMatch(/forwards to itself/);
      expect(await portIsFree(LOW_PORT + 3)).toBe(true);
      const state = backendState.parse((await app.call('state.get')).result);
      expect(state.ports.map((p) => p.id)).toEqual([`127.0.0.1:${LOW_PORT + 2}`]);
    });
  });

  test('published ports come back when the app restarts', async () => {
    const home = freshHome(users.test);
    const spec = { address: '127.0.0.1', port: 0, target: { host: '127.0.0.1', port: targetPort } };
    // A free high port, found as root, then given back.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    spec.port = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));

    await withApp(home, async (app) => {
      const reply = await app.call('ports.add', spec);
      expect(reply).toMatchObject({ ok: true, result: { state: 'listening', via: 'direct' } });
    });
    expect(await portIsFree(spec.port)).toBe(true);
    await withApp(home, async (app) => {
      const state = backendState.parse((await app.call('state.get')).result);
      expect(state.ports.map((p) => [p.id, p.state])).toEqual([[`127.0.0.1:${spec.port}`, 'listening']]);
      expect(await (await fetch(`http://127.0.0.1:${spec.port}/`)).text()).toBe('hello from the target');
    });
  });

  test('bad input: each a clear error, and nothing saved', async () => {
    const home = freshHome(users.test);
    await withApp(home, async (app) => {
      const target = { host: '127.0.0.1', port: targetPort };
      expect(await app.call('ports.add', { address: '127.0.0.1', port: 70000, target })).toMatchObject({
        ok: false,
        error: { code: 'INVALID' },
      });
      expect(await app.call('ports.add', { address: '127.0.0.1', port: 0, target })).toMatchObject({ ok: false, error: { code: 'INVALID' } });
      const named = await app.call('ports.add', { address: 'localhost', port: 8080, target });
      expect(named).toMatchObject({ ok: false, error: { code: 'INVALID', message: expect.stringMatching(/address: must be a literal IPv4 or IPv6 address/) } });
      expect(await app.call('settings.set', { key: 'telemetry', value: true })).toMatchObject({ ok: false, error: { code: 'INVALID' } });
      expect(await app.call('no.such.method')).toMatchObject({ ok: false, error: { code: 'INVALID', message: 'unknown method "no.such.method"' } });

      const cli = await berthIn(users.test, home, ['ports', 'add', 'localhost:80=8080']);
      expect(cli.code).toBe(64);
      expect(cli.stderr).toMatch(/^berth: .*localhost.*\nRun "berth ports --help" for usage\.\n$/);

      const state = backendState.parse((await app.call('state.get')).result);
      expect(state.ports).toEqual([]);
    });
    expect(existsSync(join(home, '.config/berth/mappings.json'))).toBe(false);
    expect(readFileSync(join(home, '.config/berth/settings.json'), 'utf8')).toBe(SETTLED);
  });

  test('a duplicate mapping is refused and the first one keeps serving', async () => {
    const home = freshHome(users.test);
    await withApp(home, async (app) => {
      const spec = { address: '127.0.0.1', port: LOW_PORT + 1, target: { host: '127.0.0.1', port: targetPort } };
      expect(await app.call('ports.add', spec)).toMatchObject({ ok: true });
      const again = await app.call('ports.add', { ...spec, target: { host: '127.0.0.1', port: 9 } });
      expect(again).toMatchObject({ ok: false, error: { code: 'CONFLICT' } });
      expect(await (await fetch(`http://127.0.0.1:${LOW_PORT + 1}/`)).text()).toBe('hello from the target');
      await app.call('ports.remove', { address: '127.0.0.1', port: LOW_PORT + 1 });
    });
  });

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

  test('settings through the CLI go through the running app, which shows them at once', async () => {
    const home = freshHome(users.test);
    await withApp(home, async (app) => {
      const set = await berthIn(users.test, home, ['settings', 'set', 'privilegedPortMapping', 'off']);
      expect(set.code).toBe(0);
      const state = backendState.parse((await app.call('state.get')).result);
      expect(state.settings.privilegedPortMapping).toBe(false);
      // With mapping off, a low port is a clear error that says what to enable.
      const low = await app.call('ports.add', { address: '127.0.0.1', port: LOW_PORT + 2, target: { host: '127.0.0.1', port: targetPort } });
      expect(low).toMatchObject({ ok: false, error: { code: 'HELPER_NEEDED', message: expect.stringMatching(/privileged port mapping/i) } });
    });
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

describe('a paused or stuck app', () => {
  test('the CLI gives up after its deadline with what to do, instead of waiting forever; the app answers again once resumed', async () => {
    const home = freshHome(users.test);
    await withApp(home, async (app) => {
      process.kill(app.pid, 'SIGSTOP'); // as Ctrl-Z in the app's terminal does
      try {
        const cli = [process.execPath, join(appDir(), 'dist/cli/berth.js'), 'ports', 'ls'];
        const run = await finished(spawnInHome(users.test, home, ['env', 'BERTH_CLI_DEADLINE_MS=2000', ...cli]));
        expect(run.code).toBe(1);
        expect(run.stderr).toContain('Berth did not answer within 2 s: it may be paused (Ctrl-Z in the terminal where it runs: type fg there) or stuck');
      } finally {
        process.kill(app.pid, 'SIGCONT');
      }
      expect((await berthIn(users.test, home, ['ports', 'ls'])).code).toBe(0);
    });
  });
});

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
    execFileSync('cp', ['-a', appDir(), app]);
    mkdirSync(join(app, 'resources/bin'), { recursive: true });
    writeFileSync(join(app, 'resources/bin/berth'), `#!/bin/sh\nexec ${process.execPath} ${join(app, 'dist/cli/berth.js')} "$@"\n`, { mode: 0o755 });
    execFileSync('chown', ['-R', `${users.test.uid}:${users.test.gid}`, app]);
    const safe = safeScratchDir('berth-backend-links');
    const linkDir = join(safe, 'bin');
    mkdirSync(linkDir, { mode: 0o755 });
    const linking = await startHelper({ allowUid: users.test.uid, privateSystemPaths: true, extraArgs: ['--app', app, '--link-dir', linkDir, '--state-dir', join(safe, 'state')] });
    // The User location, its link made (as Berth makes it).
    settledHome(home, app);
    const running = await startApp(users.test, home, ['--helper-socket', linking.socketPath], { app });
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
    execFileSync('cp', ['-a', appDir(), app]);
    mkdirSync(join(app, 'resources/bin'), { recursive: true, mode: 0o755 });
    writeFileSync(join(app, 'resources/bin/berth'), `#!/bin/sh\nexec ${process.execPath} ${join(app, 'dist/cli/berth.js')} "$@"\n`, { mode: 0o755 });
    const safe = safeScratchDir('berth-backend-links');
    const linkDir = join(safe, 'bin');
    mkdirSync(linkDir, { mode: 0o755 });
    const linking = await startHelper({ allowUid: users.test.uid, privateSystemPaths: true, extraArgs: ['--app', app, '--link-dir', linkDir, '--state-dir', join(safe, 'state')] });
    settledHome(home, app);
    const running = await startApp(users.test, home, ['--helper-socket', linking.socketPath], { app });
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

describe('who may drive the backend', () => {
  test('the browser bridge refuses a wrong Host (DNS rebinding), a foreign Origin, and a missing or wrong session', async () => {
    const home = freshHome(users.test);
    await withApp(home, async (app) => {
      const port = Number(new URL(app.origin).port);
      const call = JSON.stringify({ method: 'state.get', params: {} });
      const json = { 'content-type': 'application/json' };
      const auth = { authorization: `Bearer ${await app.session()}` };
      expect((await app.request({ host: `evil.example:${port}`, path: '/' })).status).toBe(421);
      expect((await app.request({ host: `evil.example:${port}`, path: '/api/call', method: 'POST', headers: { ...json, ...auth }, body: call })).status).toBe(421);
      expect((await app.request({ path: '/api/call', method: 'POST', headers: json, body: call })).status).toBe(401);
      expect((await app.request({ path: '/api/call', method: 'POST', headers: { ...json, authorization: 'Bearer 00' }, body: call })).status).toBe(401);
      // The launch code is not a session: it only buys one.
      expect((await app.request({ path: '/api/call', method: 'POST', headers: { ...json, authorization: `Bearer ${app.launchCode}` }, body: call })).status).toBe(401);
      expect((await app.request({ path: '/api/call', method: 'POST', headers: { ...json, ...auth, origin: 'https://evil.example' }, body: call })).status).toBe(403);
      expect((await app.request({ path: '/api/call', method: 'POST', headers: { 'content-type': 'text/plain', ...auth }, body: call })).status).toBe(415);
      expect((await app.request({ path: '/api/events' })).status).toBe(401);
      expect((await app.request({ path: '/../../etc/passwd' })).status).toBe(404);
      const ok = await app.request({ path: '/api/call', method: 'POST', headers: { ...json, ...auth, origin: app.origin }, body: call });
      expect(ok.status).toBe(200);
      expect(backendState.safeParse((JSON.parse(ok.body) as { result: unknown }).result).success).toBe(true);
    });
  });

  test('the page is served with a strict CSP and no referrer', async () => {
    const home = freshHome(users.test);
    await withApp(home, async (app) => {
      const res = await app.request({ path: '/' });
      expect(res.status).toBe(200);
      expect(res.headers['content-security-policy']).toMatch(/default-src 'none'; script-src 'self'/);
      expect(res.headers['referrer-policy']).toBe('no-referrer');
      expect(res.body).toContain('<div id="root">');
    });
  });

  test('state events stream over SSE with the session, and show a change', async () => {
    const home = freshHome(users.test);
    await withApp(home, async (app) => {
      const stream = await app.events(await app.session());
      expect(stream.status).toBe(200);
      expect(await stream.next()).toMatch(/^event: state\ndata: \{"capabilities"/);
      await app.call('settings.set', { key: 'privilegedPortMapping', value: false });
      let changed: { settings: { privilegedPortMapping: boolean } };
      do changed = JSON.parse((await stream.next()).split('\ndata: ')[1]!) as typeof changed;
      while (changed.settings.privilegedPortMapping);
      expect(changed.settings.privilegedPortMapping).toBe(false);
      stream.close();
    });
  });

  /** A process whose command line matches, once it runs (an opener started in the background). */
  async function processWith(match: (argv: string[]) => boolean): Promise<{ pid: number; argv: string[] }> {
    for (;;) {
      for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
        let argv: string[];
        try {
          argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').slice(0, -1);
        } catch {
          continue;
        }
        if (match(argv)) return { pid: Number(pid), argv };
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  test('another user who scans every command line, environment and readable file during `berth app --open` gets nothing that works (T25)', async () => {
    const home = freshHome(users.test);
    // The opener as browsers are: it keeps the link in its command line while it runs.
    const stubs = mkdtempSync(join(tmpdir(), 'berth-opener-'));
    chmodSync(stubs, 0o755);
    writeFileSync(join(stubs, 'xdg-open'), '#!/bin/sh\nsleep 600\n', { mode: 0o755 });
    const app = await startApp(users.test, home, ['--open', '--helper-socket', helper.socketPath], { pathPrefix: stubs });
    let opener: { pid: number; argv: string[] } | undefined;
    try {
      opener = await processWith((argv) => argv.includes(join(stubs, 'xdg-open')));
      const link = new URL(opener.argv.at(-1)!);
      const secret = [...link.searchParams.values()][0]!;
      const port = new URL(app.origin).port;
      const thief = await runFixtureAs<{ candidates: string[]; tried: number; successes: unknown[] }>(users.other, 'browser-thief', [
        port,
        String(users.test.uid),
        home,
        tmpdir(),
        '/run',
        '/dev/shm',
        '/var/tmp',
      ]);
      // The thief did see what the opener was given, and tried it every way.
      expect(thief.candidates).toContain(secret);
      expect(thief.successes).toEqual([]);
      // It was a live code all along: its owner's browser can still use it, once.
      const exchange = () =>
        app.request({ path: '/api/session', method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ launch: secret }) });
      expect((await exchange()).status).toBe(200);
      expect((await exchange()).status).toBe(401);
    } finally {
      if (opener !== undefined) process.kill(-opener.pid, 'SIGKILL');
      await app.stop();
      rmSync(stubs, { recursive: true, force: true });
    }
  });

  test('the control socket: another user cannot reach it, and root is refused by the peer check', async () => {
    const home = freshHome(users.test);
    await withApp(home, async (app) => {
      const other = await berthIn(users.other, home, ['ports', 'ls']);
      expect(other.code).not.toBe(0);
      expect(other.stdout).toBe('');
      // Root gets through the file modes, but the backend checks the peer's uid and hangs up at once.
      const reply = await new Promise<string>((resolve) => {
        const socket = connect(app.controlSocket);
        let data = '';
        socket.on('data', (c) => (data += c.toString()));
        socket.on('close', () => resolve(data));
        socket.on('connect', () => socket.write(`${JSON.stringify({ id: 1, method: 'state.get', params: {} })}\n`));
        socket.on('error', () => undefined);
      });
      expect(reply).toBe('');
    });
  });

  test('a second berth app for the same user starts no second backend: it gives a way into the first, which keeps serving', async () => {
    const home = freshHome(users.test);
    await withApp(home, async (app) => {
      const second = await berthIn(users.test, home, ['app', '--json', '--helper-socket', helper.socketPath]);
      expect(second).toMatchObject({ code: 0, stderr: '' });
      const answer = JSON.parse(second.stdout) as { url: string; controlSocket: string };
      // A fresh link to the running app's own window (its origin), through its control socket.
      expect(answer.controlSocket).toBe(app.controlSocket);
      expect(new URL(answer.url).origin).toBe(app.origin);
      expect(new URL(answer.url).searchParams.get('launch')).not.toBe(app.launchCode);
      expect((await app.call('state.get')).ok).toBe(true);
    });
  });

  test('berth app --open with the app already running opens a new window of it: a fresh launch link, good once', async () => {
    const home = freshHome(users.test);
    const stubs = mkdtempSync(join(tmpdir(), 'berth-opener-'));
    chmodSync(stubs, 0o755);
    writeFileSync(join(stubs, 'xdg-open'), '#!/bin/sh\nsleep 600\n', { mode: 0o755 });
    let opener: { pid: number; argv: string[] } | undefined;
    try {
      await withApp(home, async (app) => {
        const berth = join(appDir(), 'dist/cli/berth.js');
        const again = await finished(
          spawnInHome(users.test, home, ['env', `PATH=${stubs}:/usr/bin:/bin`, process.execPath, berth, 'app', '--open', '--helper-socket', helper.socketPath]),
        );
        expect(again).toMatchObject({ code: 0, stdout: 'Berth is already running; opening a new window of it in your browser.\n' });
        opener = await processWith((argv) => argv.includes(join(stubs, 'xdg-open')));
        const code = new URL(opener.argv.at(-1)!).searchParams.get('launch')!;
        expect(code).not.toBe(app.launchCode);
        const exchange = () =>
          app.request({ path: '/api/session', method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ launch: code }) });
        expect((await exchange()).status).toBe(200);
        expect(JSON.parse((await exchange()).body)).toEqual({ error: LAUNCH_REFUSED });
      });
    } finally {
      if (opener !== undefined) process.kill(-opener.pid, 'SIGKILL');
      rmSync(stubs, { recursive: true, force: true });
    }
  });

  test('berth ports without a running app: exit 7 and how to start it', async () => {
    const home = freshHome(users.test);
    const result = await berthIn(users.test, home, ['ports', 'ls']);
    expect(result.code).toBe(7);
    expect(result.stderr).toMatch(/^berth: Berth is not running .*; start it with "berth app"/);
  });
});

