import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { connect } from 'node:net';
import { join } from 'node:path';
import { describe, expect, inject, test } from 'vitest';
import { backendState } from '../../common/api/backend-api';
import { appDir, berthIn, freshHome, spawnInHome, startApp } from '../../test/support/app';
import { finished } from '../../test/support/finished';
import { LAUNCH_REFUSED } from '../../common/api/browser-link';
import { runFixtureAs } from '../../test/support/processes';
import { sharedHelper } from './backend-test-setup';

/**
 * Who reaches the backend, and how: `berth app` as the unprivileged test user
 * with a home of its own, beside the real root helper; the CLI through the
 * control socket, and the browser bridge over real HTTP. Ports, settings and
 * the consent flow have files of their own (backend-ports, backend-settings,
 * consent/prompt-flow).
 */
const users = inject('users');
const shared = sharedHelper();
const { withApp } = shared;

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
    const app = await startApp(users.test, home, ['--open', '--helper-socket', shared.helper.socketPath], { pathPrefix: stubs });
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
      const second = await berthIn(users.test, home, ['app', '--json', '--helper-socket', shared.helper.socketPath]);
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
          spawnInHome(users.test, home, ['env', `PATH=${stubs}:/usr/bin:/bin`, process.execPath, berth, 'app', '--open', '--helper-socket', shared.helper.socketPath]),
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
