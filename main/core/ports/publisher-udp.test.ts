import { describe, expect, inject, it } from 'vitest';
import type { MappingStatus } from '../../../common/ports/mapping';
import { bindPortRequests, publishersAsUser } from './publisher-fixture';
import { helperInNamespace, type NetNamespace, spawnFixture, unusedUdpPort, writeSavedMappings } from './test-support';

// UDP mappings end to end: the real PortPublisher as the unprivileged
// berth-test (a fixture process), the real root helper for port 53, real
// datagrams from clients inside the test's own network namespace.

const users = inject('users');
const scope = publishersAsUser(users.test);
const { cleanups, savedFile, publisherIn } = scope;

/** A UDP echo server (as root) inside `ns`: answers "echo ADDR:PORT <data>". */
async function udpEcho(ns: NetNamespace, address: string, port = 0): Promise<number> {
  const server = spawnFixture('ports-udp', ['serve', address, String(port)], { ns });
  cleanups.push(async () => {
    server.child.kill('SIGTERM');
    await server.exited;
  });
  return (await server.next((line) => line.ready === true)).port as number;
}

/** Sends `text` (count times, each after the last answer) to ADDR:PORT from inside `ns`, as the other test user. */
async function udpAsk(ns: NetNamespace, address: string, port: number, text: string, count = 1): Promise<Record<string, unknown>> {
  const ask = spawnFixture('ports-udp', ['ask', address, String(port), text, String(count)], { ns, user: users.other });
  return ask.next(() => true);
}

describe('UDP mappings, as the unprivileged user, with the real helper', () => {
  const machine = helperInNamespace(users.test.uid);

  it('forwards datagrams through an unprivileged UDP port (bound directly) and answers from it; TCP on the same port is another mapping', async () => {
    const target = await udpEcho(machine.ns, '127.0.0.1');
    const port = unusedUdpPort();
    const publisher = publisherIn(machine.ns);
    await publisher.call('open', { mappingsPath: scope.mappingsPath, helperSocket: machine.helper.socketPath });
    const spec = { address: '127.0.0.1', port, protocol: 'udp', target: { host: '127.0.0.1', port: target } };
    expect(await publisher.call('add', { spec })).toMatchObject({
      ok: true,
      status: { id: `127.0.0.1:${port}/udp`, spec, state: 'listening', via: 'direct', error: null, packets: { in: 0, out: 0 } },
    });
    expect(await udpAsk(machine.ns, '127.0.0.1', port, 'hello', 3)).toEqual({
      replies: [`echo 127.0.0.1:${target} hello 0`, `echo 127.0.0.1:${target} hello 1`, `echo 127.0.0.1:${target} hello 2`],
      from: `127.0.0.1:${port}`,
      local: expect.any(Number),
    });
    const [status] = await publisher.changed((list) => list[0]?.packets?.out === 3);
    expect(status).toMatchObject({ connections: { total: 1, failed: 0 }, packets: { in: 3, out: 3 }, lastTargetError: null });
    // A TCP mapping of the same port number is its own mapping (TCP and UDP ports are separate).
    const tcp = { address: '127.0.0.1', port, target: { host: '127.0.0.1', port: target } };
    expect(await publisher.call('add', { spec: tcp })).toMatchObject({ ok: true, status: { id: `127.0.0.1:${port}`, state: 'listening' } });
    expect(savedFile()).toEqual({ version: 1, mappings: [spec, tcp] });
    // Removing the UDP one leaves the TCP one.
    expect(await publisher.call('remove', { key: { address: '127.0.0.1', port, protocol: 'udp' } })).toMatchObject({ ok: true });
    expect(savedFile()).toEqual({ version: 1, mappings: [tcp] });
  });

  it('publishes privileged 127.0.0.1:53/udp and [::1]:53/udp through the real helper; a restart brings them back', async () => {
    const target = await udpEcho(machine.ns, '127.0.0.1');
    const target6 = await udpEcho(machine.ns, '::1');
    const v4 = { address: '127.0.0.1', port: 53, protocol: 'udp', target: { host: '127.0.0.1', port: target } };
    const v6 = { address: '::1', port: 53, protocol: 'udp', target: { host: '::1', port: target6 } };
    const first = publisherIn(machine.ns);
    await first.call('open', { mappingsPath: scope.mappingsPath, helperSocket: machine.helper.socketPath });
    expect(await first.call('add', { spec: v4 })).toMatchObject({ ok: true, status: { id: '127.0.0.1:53/udp', via: 'helper', state: 'listening' } });
    expect(await first.call('add', { spec: v6 })).toMatchObject({ ok: true, status: { id: '[::1]:53/udp', via: 'helper', state: 'listening' } });
    expect(bindPortRequests(machine.helper)).toContainEqual(
      expect.objectContaining({ peer: expect.objectContaining({ uid: users.test.uid }), args: { address: '127.0.0.1', port: 53, protocol: 'udp' }, result: 'ok' }),
    );
    expect(await udpAsk(machine.ns, '127.0.0.1', 53, 'query')).toMatchObject({ replies: [`echo 127.0.0.1:${target} query`], from: '127.0.0.1:53' });
    expect(await udpAsk(machine.ns, '::1', 53, 'query6')).toMatchObject({ replies: [`echo ::1:${target6} query6`], from: '[::1]:53' });
    await first.stop();

    const second = publisherIn(machine.ns);
    const opened = await second.call('open', { mappingsPath: scope.mappingsPath, helperSocket: machine.helper.socketPath });
    expect(opened.list).toMatchObject([
      { id: '127.0.0.1:53/udp', state: 'listening', via: 'helper' },
      { id: '[::1]:53/udp', state: 'listening', via: 'helper' },
    ]);
    expect(await udpAsk(machine.ns, '127.0.0.1', 53, 'again')).toMatchObject({ replies: [`echo 127.0.0.1:${target} again`] });
  });

  it('refuses privileged UDP on a non-loopback address with a sentence, asks no helper and binds nothing', async () => {
    const publisher = publisherIn(machine.ns);
    await publisher.call('open', { mappingsPath: scope.mappingsPath, helperSocket: machine.helper.socketPath });
    const before = bindPortRequests(machine.helper).length;
    for (const address of ['0.0.0.0', '::']) {
      const added = await publisher.call('add', { spec: { address, port: 53, protocol: 'udp', target: { host: '127.0.0.1', port: 5353 } } });
      const listen = address === '::' ? '[::]:53/udp' : '0.0.0.0:53/udp';
      const loopback = address === '::' ? '[::1]:53/udp' : '127.0.0.1:53/udp';
      expect(added).toEqual({
        id: expect.any(Number),
        ok: false,
        code: 'LOCKED',
        message: `${listen} needs the privileged helper, which serves UDP ports below 1024 on loopback addresses only unless your organization's policy allows more: use ${loopback}, or a port from 1024 up`,
      });
    }
    expect(bindPortRequests(machine.helper).length).toBe(before);
    expect(savedFile()).toBeUndefined();
    expect((await publisher.call('list')).list).toEqual([]);
    // Nothing holds the port: a root server binds 0.0.0.0:53/udp in the same namespace at once.
    expect(await udpEcho(machine.ns, '0.0.0.0', 53)).toBe(53);
  });

  it("the helper refuses privileged UDP off loopback by itself, even when the app's own check is lifted; a policy without UDP refuses every UDP port", async () => {
    // The app believes a policy allows UDP anywhere (as an enrolled user skipping the app could claim): the helper,
    // which reads the verified policy itself (none here), still refuses, and nothing is bound.
    const lifted = publisherIn(machine.ns);
    await lifted.call('open', { mappingsPath: scope.mappingsPath, helperSocket: machine.helper.socketPath, portRules: { rules: { udp: 'any' }, source: 'Example Corp policy v1' } });
    const added = await lifted.call('add', { spec: { address: '0.0.0.0', port: 53, protocol: 'udp', target: { host: '127.0.0.1', port: 5353 } } });
    expect(added).toMatchObject({ ok: false, code: 'LOCKED', message: expect.stringMatching(/^0\.0\.0\.0:53\/udp needs the privileged helper, which serves UDP ports below 1024 on loopback addresses only/) });
    expect(bindPortRequests(machine.helper).at(-1)).toMatchObject({ args: { address: '0.0.0.0', port: 53, protocol: 'udp' }, result: 'NOT_ALLOWED' });
    expect(await udpEcho(machine.ns, '0.0.0.0', 53)).toBe(53);
    await lifted.stop();

    const none = publisherIn(machine.ns);
    await none.call('open', { mappingsPath: scope.mappingsPath, helperSocket: machine.helper.socketPath, portRules: { rules: { udp: 'none' }, source: 'Example Corp policy v2' } });
    const port = unusedUdpPort();
    expect(await none.call('add', { spec: { address: '127.0.0.1', port, protocol: 'udp', target: { host: '127.0.0.1', port: 5353 } } })).toMatchObject({
      ok: false,
      code: 'LOCKED',
      message: `127.0.0.1:${port}/udp is not allowed by Example Corp policy v2: UDP ports may not be published`,
    });
    expect(savedFile()).toBeUndefined();
  });

  it('says when the target does not answer (ICMP port unreachable) and keeps serving', async () => {
    const down = unusedUdpPort();
    const port = unusedUdpPort();
    const publisher = publisherIn(machine.ns);
    await publisher.call('open', { mappingsPath: scope.mappingsPath, helperSocket: machine.helper.socketPath });
    await publisher.call('add', { spec: { address: '127.0.0.1', port, protocol: 'udp', target: { host: '127.0.0.1', port: down } } });
    const client = spawnFixture('ports-udp', ['ask', '127.0.0.1', String(port), 'anyone?'], { ns: machine.ns, user: users.other });
    cleanups.push(() => client.child.kill('SIGKILL'));
    const [status] = await publisher.changed((list) => list[0]?.lastTargetError !== null && list[0]?.lastTargetError !== undefined);
    expect(status).toMatchObject({ state: 'listening', lastTargetError: `nothing is listening on 127.0.0.1:${down} (UDP)`, connections: { failed: 1 } });
  });

  it('loads a saved file of TCP mappings without a protocol (as before UDP) and one with UDP', async () => {
    const target = await udpEcho(machine.ns, '127.0.0.1');
    const tcpPort = unusedUdpPort();
    const udpPort = unusedUdpPort();
    const tcp = { address: '127.0.0.1', port: tcpPort, target: { host: '127.0.0.1', port: 9 } };
    const udp = { address: '127.0.0.1', port: udpPort, protocol: 'udp' as const, target: { host: '127.0.0.1', port: target } };
    writeSavedMappings(scope.dir, users.test, [tcp, udp]);
    const publisher = publisherIn(machine.ns);
    const opened = await publisher.call('open', { mappingsPath: scope.mappingsPath, helperSocket: machine.helper.socketPath });
    expect(opened.notice).toBeNull();
    expect((opened.list as MappingStatus[]).map((m) => [m.id, m.state, m.spec])).toEqual([
      [`127.0.0.1:${tcpPort}`, 'listening', tcp],
      [`127.0.0.1:${udpPort}/udp`, 'listening', udp],
    ]);
    expect(await udpAsk(machine.ns, '127.0.0.1', udpPort, 'restored')).toMatchObject({ replies: [`echo 127.0.0.1:${target} restored`] });
  });
});
