import { diagnoseHelper, needsHelper } from '../../../common/helper/diagnosis';
import { chmodSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { MappingStatus } from '../../../common/ports/mapping';
import { startHelper, type HelperProcess } from '../../../test/support/processes';
import { bindPortRequests, publishersAsUser } from './publisher-fixture';
import { helperDir, helperInNamespace, httpGet, NetNamespace, serveTarget, startHelperIn, unusedPort } from './test-support';

// The backend runs as the user; these tests run the real PortPublisher as the
// unprivileged berth-test (a fixture process) against the real root helper.
// Port 80 is bound in network namespaces of the test's own, so no other
// test file's 127.0.0.1:80 gets in the way.

const users = inject('users');
const scope = publishersAsUser(users.test);
const { cleanups, savedFile, publisherIn } = scope;

describe('port 80 through the real helper, as the unprivileged user', () => {
  const machine = helperInNamespace(users.test.uid);
  beforeAll(() => {
    expect(machine.ns.sysctl('net/ipv4/ip_unprivileged_port_start')).toBe('1024');
  });

  it('publishes 127.0.0.1:80 to a local HTTP server; real requests succeed; remove frees the port', async () => {
    const target = await serveTarget(machine.ns, '127.0.0.1');
    cleanups.push(() => target.stop());
    const publisher = publisherIn(machine.ns);
    const opened = await publisher.call('open', { mappingsPath: scope.mappingsPath, helperSocket: machine.helper.socketPath });
    expect(opened).toMatchObject({ ok: true, notice: null, list: [], uid: users.test.uid });

    const spec = { address: '127.0.0.1', port: 80, target: { host: '127.0.0.1', port: target.port } };
    const added = await publisher.call('add', { spec });
    expect(added).toMatchObject({ ok: true, status: { id: '127.0.0.1:80', state: 'listening', via: 'helper', error: null } });
    for (let i = 0; i < 3; i++) {
      expect(await httpGet('http://127.0.0.1:80/', machine.ns)).toEqual({ status: 200, body: `target 127.0.0.1:${target.port}` });
    }
    expect(bindPortRequests(machine.helper)).toContainEqual(
      expect.objectContaining({ peer: expect.objectContaining({ uid: users.test.uid }), args: { address: '127.0.0.1', port: 80, protocol: 'tcp' }, result: 'ok' }),
    );
    expect(savedFile()).toEqual({ version: 1, mappings: [spec] });
    await publisher.changed((list) => list[0]?.connections.total === 3 && list[0].bytes.out > 0);

    expect(await publisher.call('remove', { key: { address: '127.0.0.1', port: 80 } })).toEqual({ id: expect.any(Number), ok: true });
    expect(savedFile()).toEqual({ version: 1, mappings: [] });
    // Free: a root server takes 127.0.0.1:80 in the same namespace right away.
    const after = await serveTarget(machine.ns, '127.0.0.1', 80);
    await after.stop();
  });

  it("maps the helper's own refusal: a port in use is PORT_IN_USE, and nothing is saved", async () => {
    const squatter = await serveTarget(machine.ns, '127.0.0.1', 80);
    cleanups.push(() => squatter.stop());
    const publisher = publisherIn(machine.ns);
    await publisher.call('open', { mappingsPath: scope.mappingsPath, helperSocket: machine.helper.socketPath });
    const added = await publisher.call('add', { spec: { address: '127.0.0.1', port: 80, target: { host: 'localhost', port: 8080 } } });
    expect(added).toMatchObject({ ok: false, code: 'PORT_IN_USE', message: '127.0.0.1:80 is already in use by another program' });
    expect(savedFile()).toBeUndefined();
    expect((await publisher.call('list')).list).toEqual([]);
  });

  it('a mapping restored while the setting is off waits, and binds once it is turned on', async () => {
    const target = await serveTarget(machine.ns, '127.0.0.1');
    cleanups.push(() => target.stop());
    const spec = { address: '127.0.0.1', port: 80, target: { host: '127.0.0.1', port: target.port } };
    const first = publisherIn(machine.ns);
    await first.call('open', { mappingsPath: scope.mappingsPath, helperSocket: machine.helper.socketPath });
    await first.call('add', { spec });
    await first.stop();

    const second = publisherIn(machine.ns);
    const opened = await second.call('open', { mappingsPath: scope.mappingsPath, helperSocket: machine.helper.socketPath, privileged: false });
    expect((opened.list as MappingStatus[])[0]).toMatchObject({
      state: 'waiting',
      via: null,
      error: {
        code: 'HELPER_NEEDED',
        message: "port 80 needs the privileged helper: turn on privileged port mapping in Berth's settings (the helper is installed)",
      },
    });
    expect(savedFile()).toEqual({ version: 1, mappings: [spec] }); // waiting is not forgotten
    await second.call('privileged', { value: true });
    const retried = await second.call('retry');
    expect((retried.list as MappingStatus[])[0]).toMatchObject({ state: 'listening', via: 'helper', error: null });
    expect(await httpGet('http://127.0.0.1:80/', machine.ns)).toEqual({ status: 200, body: `target 127.0.0.1:${target.port}` });
  });
});

describe('turning privileged port mapping off', () => {
  const machine = helperInNamespace(users.test.uid);

  it('stops the ports the helper bound, frees them and keeps them saved; ports the user bound keep serving', async () => {
    const target = await serveTarget(machine.ns, '127.0.0.1');
    cleanups.push(() => target.stop());
    const low = { address: '127.0.0.1', port: 80, target: { host: '127.0.0.1', port: target.port } };
    const high = { address: '127.0.0.1', port: unusedPort(), target: { host: '127.0.0.1', port: target.port } };
    const publisher = publisherIn(machine.ns);
    await publisher.call('open', { mappingsPath: scope.mappingsPath, helperSocket: machine.helper.socketPath });
    expect(await publisher.call('add', { spec: low })).toMatchObject({ ok: true, status: { via: 'helper' } });
    expect(await publisher.call('add', { spec: high })).toMatchObject({ ok: true, status: { via: 'direct' } });

    await publisher.call('privileged', { value: false });
    const released = await publisher.call('release');
    expect(released.list).toMatchObject([
      {
        state: 'waiting',
        via: null,
        error: { code: 'HELPER_NEEDED', message: "port 80 needs the privileged helper: turn on privileged port mapping in Berth's settings (the helper is installed)" },
      },
      { state: 'listening', via: 'direct', error: null },
    ]);
    expect(savedFile()).toEqual({ version: 1, mappings: [low, high] });
    expect(await httpGet(`http://127.0.0.1:${high.port}/`, machine.ns)).toEqual({ status: 200, body: `target 127.0.0.1:${target.port}` });
    // Port 80 is free: a root server takes it in the same namespace right away.
    const squatter = await serveTarget(machine.ns, '127.0.0.1', 80);
    await squatter.stop();

    await publisher.call('privileged', { value: true });
    expect(((await publisher.call('retry')).list as MappingStatus[])[0]).toMatchObject({ state: 'listening', via: 'helper' });
    expect(await httpGet('http://127.0.0.1:80/', machine.ns)).toEqual({ status: 200, body: `target 127.0.0.1:${target.port}` });
  });
});

describe('the helper goes away and comes back', () => {
  let ns: NetNamespace;
  let dir: string;
  beforeAll(async () => {
    ns = await NetNamespace.create();
    dir = helperDir();
  });
  afterAll(async () => {
    await ns.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a mapping keeps serving when the helper is killed; restored, it waits, and comes back on its own when the helper restarts', async () => {
    const target = await serveTarget(ns, '127.0.0.1');
    cleanups.push(() => target.stop());
    let helper = await startHelperIn(ns, users.test.uid, dir);
    cleanups.push(() => helper.stop());
    const spec = { address: '127.0.0.1', port: 80, target: { host: '127.0.0.1', port: target.port } };

    const running = publisherIn(ns);
    await running.call('open', { mappingsPath: scope.mappingsPath, helperSocket: helper.socketPath });
    expect(await running.call('add', { spec })).toMatchObject({ ok: true, status: { via: 'helper' } });
    await helper.kill(); // a crash: the socket file stays behind
    // The socket is ours, not the helper's: serving goes on.
    expect(await httpGet('http://127.0.0.1:80/', ns)).toEqual({ status: 200, body: `target 127.0.0.1:${target.port}` });
    expect((await running.call('list')).list).toMatchObject([{ state: 'listening', via: 'helper' }]);
    await running.stop(); // the app quits

    const restarted = publisherIn(ns); // the app starts again, the helper still down
    const opened = await restarted.call('open', { mappingsPath: scope.mappingsPath, helperSocket: helper.socketPath });
    expect((opened.list as MappingStatus[])[0]).toMatchObject({
      state: 'waiting',
      error: {
        code: 'HELPER_NEEDED',
        // A crash's leftover socket, and no install config names it: not running, and the install starts it.
        message: needsHelper('Port 80', diagnoseHelper('not-running')),
      },
    });
    expect((await httpGet('http://127.0.0.1:80/', ns)).error).toBe('ECONNREFUSED');

    // Nothing but starting the helper: the publisher notices by itself.
    helper = await startHelperIn(ns, users.test.uid, dir);
    const list = await restarted.changed((l) => l[0]?.state === 'listening');
    expect(list[0]).toMatchObject({ state: 'listening', via: 'helper', error: null });
    expect(await httpGet('http://127.0.0.1:80/', ns)).toEqual({ status: 200, body: `target 127.0.0.1:${target.port}` });
  });
});

describe('when the helper cannot be used, a privileged port is a clear error and nothing is saved', () => {
  let helper: HelperProcess;
  let otherHelper: HelperProcess;
  /** A socket only root may connect to: the user's connect fails with EACCES. */
  let rootOnly: net.Server;
  beforeAll(async () => {
    helper = await startHelper({ allowUid: users.test.uid });
    otherHelper = await startHelper({ allowUid: users.other.uid });
    rootOnly = net.createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => rootOnly.listen(join(helper.dir, 'root-only.sock'), resolve));
    chmodSync(join(helper.dir, 'root-only.sock'), 0o600);
  });
  afterAll(async () => {
    await new Promise((resolve) => rootOnly.close(resolve));
    await helper.stop();
    await otherHelper.stop();
  });

  const spec = { address: '127.0.0.1', port: 80, target: { host: 'localhost', port: 8080 } };

  it.each([
    [
      'privileged port mapping is off (the helper runs)',
      () => helper.socketPath,
      false,
      'HELPER_NEEDED',
      "port 80 needs the privileged helper: turn on privileged port mapping in Berth's settings (the helper is installed)",
    ],
    [
      'the helper is not installed',
      () => join(helper.dir, 'none', 'helper.sock'),
      true,
      'HELPER_NEEDED',
      needsHelper('Port 80', diagnoseHelper('not-installed')),
    ],
    [
      'neither',
      () => join(helper.dir, 'none', 'helper.sock'),
      false,
      'HELPER_NEEDED',
      `${needsHelper('Port 80', diagnoseHelper('not-installed'))} Then turn on privileged port mapping in Berth's settings.`,
    ],
    [
      "the helper is other accounts' (this one is not enrolled)",
      () => otherHelper.socketPath,
      true,
      'HELPER_NEEDED',
      needsHelper('Port 80', diagnoseHelper('not-enrolled')),
    ],
    [
      // The state in words, with its fix: not the socket's path and errno.
      'the helper refuses this account at the door (its socket is not open to it)',
      () => join(helper.dir, 'root-only.sock'),
      true,
      'HELPER_UNAVAILABLE',
      needsHelper('Port 80', diagnoseHelper('no-permission')),
    ],
    [
      'the machine is in user mode (no helper by design)',
      () => join(helper.dir, 'none', 'helper.sock'),
      true,
      'HELPER_NEEDED',
      'port 80 is not allowed without the privileged helper, and this machine is set up in user mode (no helper): choose a port from 1024 up, or ask your administrator',
      { userMode: true },
    ],
    [
      'privileged port mapping is locked off by the organization',
      () => helper.socketPath,
      false,
      'HELPER_NEEDED',
      'port 80 needs the privileged helper, and privileged port mapping is turned off by Example Corp policy v3: choose a port from 1024 up',
      { lockedBy: 'Example Corp policy v3' },
    ],
  ] as Array<[string, () => string, boolean, string, unknown, { userMode?: boolean; lockedBy?: string }?]>)('%s', async (_what, socket, privileged, code, message, machine = {}) => {
    const publisher = publisherIn();
    await publisher.call('open', { mappingsPath: scope.mappingsPath, helperSocket: socket(), privileged, ...machine });
    expect(await publisher.call('add', { spec })).toMatchObject({ ok: false, code, message });
    expect(savedFile()).toBeUndefined();
    expect((await publisher.call('list')).list).toEqual([]);
    expect(bindPortRequests(helper)).toEqual([]);
  });
});

describe('the direct path: the helper is not asked when the user may bind', () => {
  let helper: HelperProcess;
  beforeAll(async () => {
    helper = await startHelper({ allowUid: users.test.uid });
  });
  afterAll(async () => {
    await helper.stop();
  });

  it('a port ≥ 1024 is bound by the user directly', async () => {
    const server = http.createServer((_req, res) => res.end('direct target'));
    await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
    cleanups.push(() => new Promise((resolve) => server.close(resolve)));
    const port = unusedPort();
    const publisher = publisherIn();
    await publisher.call('open', { mappingsPath: scope.mappingsPath, helperSocket: helper.socketPath });
    const added = await publisher.call('add', {
      spec: { address: '127.0.0.1', port, target: { host: '127.0.0.1', port: (server.address() as net.AddressInfo).port } },
    });
    expect(added).toMatchObject({ ok: true, status: { state: 'listening', via: 'direct' } });
    expect(await httpGet(`http://127.0.0.1:${port}/`)).toEqual({ status: 200, body: 'direct target' });
    expect(bindPortRequests(helper)).toEqual([]);
  });

  it('port 80 is bound directly where ip_unprivileged_port_start is 0', async () => {
    const ns = await NetNamespace.create({ unprivilegedPortStart: 0 });
    cleanups.push(() => ns.close());
    expect(ns.sysctl('net/ipv4/ip_unprivileged_port_start')).toBe('0');
    const target = await serveTarget(ns, '127.0.0.1');
    cleanups.push(() => target.stop());
    const publisher = publisherIn(ns);
    await publisher.call('open', { mappingsPath: scope.mappingsPath, helperSocket: helper.socketPath });
    const added = await publisher.call('add', { spec: { address: '127.0.0.1', port: 80, target: { host: '127.0.0.1', port: target.port } } });
    expect(added).toMatchObject({ ok: true, status: { state: 'listening', via: 'direct' } });
    expect(await httpGet('http://127.0.0.1:80/', ns)).toEqual({ status: 200, body: `target 127.0.0.1:${target.port}` });
    // The helper was reachable the whole time, and never asked.
    expect(bindPortRequests(helper)).toEqual([]);
  });
});
