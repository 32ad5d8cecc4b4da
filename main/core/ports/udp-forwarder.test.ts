import dgram from 'node:dgram';
import { fstatSync } from 'node:fs';
import { isIP } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { boundUdpFd, listeningFd, unusedUdpPort } from './test-support';
import { UdpForwarder, type UdpForwarderStats } from './udp-forwarder';

// Real sockets on loopback, in-process; waits are on answers and on the
// forwarder's own activity callback, never on time.

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function udpSocket(address = '127.0.0.1', port = 0): Promise<dgram.Socket> {
  const socket = dgram.createSocket(isIP(address) === 6 ? 'udp6' : 'udp4');
  await new Promise<void>((resolve) => socket.bind(port, address, resolve));
  cleanups.push(() => socket.close());
  return socket;
}

/** An echo target: "echo <data>" back to whoever sent it. */
async function echoTarget(address = '127.0.0.1'): Promise<number> {
  const socket = await udpSocket(address);
  socket.on('message', (data, from) => socket.send(`echo ${data.toString()}`, from.port, from.address));
  return socket.address().port;
}

async function forwarder(host: string, targetPort: number, options: { maxFlows?: number; idleMs?: number; listen?: string } = {}) {
  const { fd, port } = boundUdpFd(options.listen ?? '127.0.0.1');
  const waiters = new Set<() => void>();
  const fwd = await UdpForwarder.listen(fd, { host, port: targetPort }, { ...options, onActivity: () => waiters.forEach((w) => w()) });
  cleanups.push(() => fwd.close());
  const until = (pred: (s: UdpForwarderStats) => boolean): Promise<UdpForwarderStats> =>
    new Promise((resolve) => {
      const check = (): void => {
        if (!pred(fwd.stats())) return;
        waiters.delete(check);
        resolve(fwd.stats());
      };
      waiters.add(check);
      check();
    });
  return { fwd, port, until };
}

/** Sends `text` from `socket` to the forwarder and resolves with the answer and who sent it. */
function ask(socket: dgram.Socket, port: number, text: string, address = '127.0.0.1'): Promise<{ text: string; from: dgram.RemoteInfo }> {
  return new Promise((resolve) => {
    socket.once('message', (data, from) => resolve({ text: data.toString(), from }));
    socket.send(text, port, address);
  });
}

describe('UdpForwarder', () => {
  it('forwards each client to the target and answers it from the published address, counting flows, datagrams and bytes', async () => {
    const target = await echoTarget();
    const { fwd, port } = await forwarder('127.0.0.1', target);
    expect(fwd.address()).toMatchObject({ address: '127.0.0.1', port });
    const one = await udpSocket();
    const two = await udpSocket();
    const [a, b] = await Promise.all([ask(one, port, 'from one'), ask(two, port, 'from two')]);
    expect(a.text).toBe('echo from one');
    expect(b.text).toBe('echo from two');
    // The answer comes from the published port, as a client expects (never from the flow's own socket).
    expect(a.from).toMatchObject({ address: '127.0.0.1', port });
    expect((await ask(one, port, 'again')).text).toBe('echo again');
    expect(fwd.stats()).toMatchObject({ active: 2, total: 2, failed: 0, packetsIn: 3, packetsOut: 3, bytesIn: 21, bytesOut: 36, dropped: 0 });
    expect(fwd.lastTargetError).toBeNull();
  });

  it('forwards over IPv6 and to a target named by a host name', async () => {
    const target6 = await echoTarget('::1');
    const v6 = await forwarder('::1', target6, { listen: '::1' });
    expect((await ask(await udpSocket('::1'), v6.port, 'six', '::1')).text).toBe('echo six');
    const target4 = await echoTarget('127.0.0.1');
    const named = await forwarder('localhost', target4);
    expect((await ask(await udpSocket(), named.port, 'named')).text).toBe('echo named');
  });

  it('keeps at most maxFlows: a new client takes the place of the one idle the longest', async () => {
    const target = await echoTarget();
    const { fwd, port, until } = await forwarder('127.0.0.1', target, { maxFlows: 2 });
    const clients = [await udpSocket(), await udpSocket(), await udpSocket()];
    await ask(clients[0]!, port, 'a');
    await ask(clients[1]!, port, 'b');
    await ask(clients[0]!, port, 'a again'); // the first is active again: the second is now idle the longest
    expect((await ask(clients[2]!, port, 'c')).text).toBe('echo c');
    expect(await until((s) => s.active === 2)).toMatchObject({ active: 2, total: 3 });
    // The first kept its flow (no new one); the second gets a new one when it speaks again.
    await ask(clients[0]!, port, 'a still');
    expect(fwd.stats().total).toBe(3);
    await ask(clients[1]!, port, 'b back');
    expect(fwd.stats()).toMatchObject({ active: 2, total: 4 });
  });

  it('ends a flow after its idle time, closing its socket, and opens a new one when the client comes back', async () => {
    const target = await echoTarget();
    const { fwd, port, until } = await forwarder('127.0.0.1', target, { idleMs: 50 });
    const client = await udpSocket();
    expect((await ask(client, port, 'hello')).text).toBe('echo hello');
    expect(fwd.stats().active).toBe(1);
    await until((s) => s.active === 0);
    expect((await ask(client, port, 'back')).text).toBe('echo back');
    expect(fwd.stats()).toMatchObject({ active: 1, total: 2 });
  });

  it('says so when the target refuses (ICMP port unreachable), and keeps serving', async () => {
    const down = unusedUdpPort();
    const { fwd, port, until } = await forwarder('127.0.0.1', down);
    const client = await udpSocket();
    client.send('anyone?', port, '127.0.0.1');
    await until((s) => s.failed === 1);
    expect(fwd.lastTargetError).toBe(`nothing is listening on 127.0.0.1:${down} (UDP)`);
    expect(fwd.stats()).toMatchObject({ active: 1, total: 1, failed: 1, packetsOut: 0 });
  });

  it('says so when the target name does not resolve, and does not look it up again for every datagram of that client', async () => {
    const { fwd, port, until } = await forwarder('no-such-host.invalid', 53);
    const client = await udpSocket();
    client.send('x', port, '127.0.0.1');
    await until((s) => s.failed === 1);
    expect(fwd.lastTargetError).toMatch(/^no-such-host\.invalid could not be resolved/);
    client.send('again', port, '127.0.0.1');
    client.send('and again', port, '127.0.0.1');
    // Another client's datagram comes after those two on the one socket: once its flow exists, they were handled.
    (await udpSocket()).send('other', port, '127.0.0.1');
    await until((s) => s.total === 2);
    expect(fwd.stats()).toMatchObject({ total: 2, dropped: 2 });
  });

  it('refuses a descriptor that is not a UDP socket, closing it', async () => {
    const { fd } = listeningFd();
    await expect(UdpForwarder.listen(fd, { host: '127.0.0.1', port: 1 })).rejects.toMatchObject({ code: 'EPROTOTYPE' });
    expect(() => fstatSync(fd)).toThrow(/EBADF/);
  });

  it('frees the port on close', async () => {
    const target = await echoTarget();
    const { fwd, port } = await forwarder('127.0.0.1', target);
    await ask(await udpSocket(), port, 'x');
    await fwd.close();
    // The port is free: a new socket binds it without any reuse option.
    const again = await udpSocket('127.0.0.1', port);
    expect(again.address().port).toBe(port);
  });
});
