import { existsSync, readFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { describe, expect, inject, test } from 'vitest';
import { backendState } from '../../common/api/backend-api';
import { berthIn, freshHome } from '../../test/support/app';
import { helloTarget, LOW_PORT, portIsFree, SETTLED, sharedHelper } from './backend-test-setup';

/**
 * Publishing ports as users do it: `berth app` as the unprivileged test user
 * with a home of its own, the real root helper, the CLI through the control
 * socket, and the API as the window calls it.
 */
const users = inject('users');
const shared = sharedHelper();
const { withApp } = shared;
const httpTarget = helloTarget();

describe('berth app, with the CLI through the control socket', () => {
  test(`publishes 127.0.0.1:${LOW_PORT} through the helper; requests reach the target; rm frees the port`, async () => {
    const home = freshHome(users.test);
    await withApp(home, async () => {
      const added = await berthIn(users.test, home, ['ports', 'add', `127.0.0.1:${LOW_PORT}=127.0.0.1:${httpTarget.port}`]);
      expect(added.stderr).toBe('');
      expect(added.stdout).toBe(`Published 127.0.0.1:${LOW_PORT} -> 127.0.0.1:${httpTarget.port} (bound by the helper).\n`);
      expect(added.code).toBe(0);
      const res = await fetch(`http://127.0.0.1:${LOW_PORT}/`);
      expect(await res.text()).toBe('hello from the target');
      expect(shared.helper.auditEntries()).toContainEqual(expect.objectContaining({ op: 'bindPort', result: 'ok', args: { address: '127.0.0.1', port: LOW_PORT, protocol: 'tcp' } }));

      const listed = await berthIn(users.test, home, ['ports', 'ls', '--json']);
      const [status] = JSON.parse(listed.stdout) as Array<{ via: string; state: string; connections: { total: number } }>;
      expect(status).toMatchObject({ via: 'helper', state: 'listening' });
      expect(status!.connections.total).toBeGreaterThanOrEqual(1);

      // Refused: a sentence for people on stderr, no code in it; the code for scripts in --json.
      const again = await berthIn(users.test, home, ['ports', 'add', `127.0.0.1:${LOW_PORT}=127.0.0.1:${httpTarget.port}`]);
      expect(again).toMatchObject({ code: 1, stdout: '', stderr: `berth ports: 127.0.0.1:${LOW_PORT} is already published (to 127.0.0.1:${httpTarget.port})\n` });
      const againJson = await berthIn(users.test, home, ['ports', 'add', `127.0.0.1:${LOW_PORT}=127.0.0.1:${httpTarget.port}`, '--json']);
      expect(againJson.code).toBe(1);
      expect(JSON.parse(againJson.stdout)).toEqual({ error: { code: 'CONFLICT', message: `127.0.0.1:${LOW_PORT} is already published (to 127.0.0.1:${httpTarget.port})` } });
      expect(againJson.stderr).toBe(again.stderr);

      const removed = await berthIn(users.test, home, ['ports', 'rm', `127.0.0.1:${LOW_PORT}`]);
      expect(removed.stdout).toBe(`Removed 127.0.0.1:${LOW_PORT}; the port is free.\n`);
      expect(await portIsFree(LOW_PORT)).toBe(true);
    });
  });

  test("Docker's form through the CLI: -p HOST_PORT:TARGET_PORT is said as understood, then published; a self-forwarding mapping is refused and nothing binds", async () => {
    const home = freshHome(users.test);
    await withApp(home, async (app) => {
      const added = await berthIn(users.test, home, ['ports', 'add', '-p', `${LOW_PORT + 2}:${httpTarget.port}/tcp`]);
      expect(added.stderr).toBe('');
      expect(added.stdout).toBe(
        `Understood "${LOW_PORT + 2}:${httpTarget.port}/tcp" as 127.0.0.1:${LOW_PORT + 2} → 127.0.0.1:${httpTarget.port}.\n` +
          `Published 127.0.0.1:${LOW_PORT + 2} -> 127.0.0.1:${httpTarget.port} (bound by the helper).\n`,
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
    const spec = { address: '127.0.0.1', port: 0, target: { host: '127.0.0.1', port: httpTarget.port } };
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
      const target = { host: '127.0.0.1', port: httpTarget.port };
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
      const spec = { address: '127.0.0.1', port: LOW_PORT + 1, target: { host: '127.0.0.1', port: httpTarget.port } };
      expect(await app.call('ports.add', spec)).toMatchObject({ ok: true });
      const again = await app.call('ports.add', { ...spec, target: { host: '127.0.0.1', port: 9 } });
      expect(again).toMatchObject({ ok: false, error: { code: 'CONFLICT' } });
      expect(await (await fetch(`http://127.0.0.1:${LOW_PORT + 1}/`)).text()).toBe('hello from the target');
      await app.call('ports.remove', { address: '127.0.0.1', port: LOW_PORT + 1 });
    });
  });
});
