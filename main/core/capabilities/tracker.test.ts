import { chownSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, inject, test } from 'vitest';
import { freshHome } from '../../../test/support/user-home';
import { helperDir, NetNamespace, serveTarget, startHelperIn, type NsHelper } from '../ports/test-support';
import { BackendDriver } from '../test-driver';

/**
 * The helper card follows what the backend itself sees. A port waiting for
 * the helper is re-bound by the publisher as soon as a restarted helper
 * answers; the backend has then just seen the helper work, so the card says
 * 'running' no later than the port says 'listening' — not at the next
 * refresh (which this backend does only hourly, so only the backend's own
 * sighting can update the card). Real helper as root in a network namespace
 * of its own (port 80 is its own there), the backend as the test user.
 */
const users = inject('users');

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('the helper card', () => {
  test('shows the restarted helper running no later than the port the publisher re-bound through it', async () => {
    const ns = await NetNamespace.create();
    cleanups.push(() => ns.close());
    const dir = helperDir();
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const target = await serveTarget(ns, '127.0.0.1');
    cleanups.push(() => target.stop());
    // A helper that was killed with kill -9: its socket file stays behind, nobody listens.
    let helper: NsHelper = await startHelperIn(ns, users.test.uid, dir);
    await helper.kill();

    const home = freshHome(users.test);
    const config = join(home, '.config/berth');
    mkdirSync(config, { recursive: true, mode: 0o700 });
    writeFileSync(join(config, 'mappings.json'), JSON.stringify({ version: 1, mappings: [{ address: '127.0.0.1', port: 80, target: { host: '127.0.0.1', port: target.port } }] }), { mode: 0o600 });
    for (const path of [join(home, '.config'), config, join(config, 'mappings.json')]) chownSync(path, users.test.uid, users.test.gid);

    const driver = await BackendDriver.start(users.test, { home, appPath: '/opt/Berth', refreshMs: 3_600_000, layout: { socketPath: helper.socketPath } }, (argv) => ns.wrap(argv));
    cleanups.push(() => driver.close());
    const start = driver.latest();
    expect(start.capabilities.helper.state).toBe('not-running');
    expect(start.ports).toMatchObject([{ id: '127.0.0.1:80', state: 'waiting' }]);

    // Restarted: the publisher's helper watch sees the socket and re-binds port 80 through it.
    helper = await startHelperIn(ns, users.test.uid, dir);
    cleanups.push(() => helper.stop());
    const bound = await driver.until('port 80 bound through the helper', (s) => s.ports[0]?.state === 'listening');
    expect(bound.ports[0]).toMatchObject({ state: 'listening', via: 'helper' });
    expect(bound.capabilities.helper.state).toBe('running');
    // And never a snapshot that shows the port bound by a helper the card calls down.
    const contradictions = driver.states().filter((s) => s.ports[0]?.state === 'listening' && s.capabilities.helper.state !== 'running');
    expect(contradictions).toEqual([]);
  });
});
