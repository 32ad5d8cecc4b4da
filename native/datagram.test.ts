import { closeSync, openSync } from 'node:fs';
import dgram from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { POLL_READABLE, bindSocket, datagramAddress, pollStart, pollStop, receiveDatagram, sendDatagram } from './index';
import { expectSystemError, fdFlags, freePort, O_CLOEXEC, openFdCount, removeTempDirs } from './test-helpers';

const fds: number[] = [];
const sockets: dgram.Socket[] = [];
afterEach(() => {
  for (const fd of fds.splice(0)) closeSync(fd);
  for (const socket of sockets.splice(0)) socket.close();
  removeTempDirs();
});

async function udpFd(address: string): Promise<{ fd: number; port: number }> {
  const port = await freePort(address);
  const fd = bindSocket(address, port, 'udp', 1);
  fds.push(fd);
  return { fd, port };
}

/** A Node UDP socket bound to an ephemeral port on `address`. */
async function nodeSocket(address: string): Promise<dgram.Socket> {
  const socket = dgram.createSocket(address.includes(':') ? 'udp6' : 'udp4');
  sockets.push(socket);
  await new Promise<void>((resolve) => socket.bind(0, address, resolve));
  return socket;
}

/** The next datagram on `fd`, waited for with pollStart (no sleeps). */
function nextDatagram(fd: number): Promise<NonNullable<ReturnType<typeof receiveDatagram>>> {
  return new Promise((resolve, reject) => {
    const handle = pollStart(fd, POLL_READABLE, (error) => {
      if (error) {
        pollStop(handle);
        reject(error);
        return;
      }
      const datagram = receiveDatagram(fd);
      if (datagram === null) return;
      pollStop(handle);
      resolve(datagram);
    });
  });
}

describe('datagram: UDP on a bound socket fd without handing it to libuv', () => {
  it.each(['127.0.0.1', '::1'])('receives a datagram with its sender on %s and answers exactly that sender', async (address) => {
    const { fd, port } = await udpFd(address);
    expect(datagramAddress(fd)).toEqual({ address, port });
    const client = await nodeSocket(address);
    const reply = new Promise<{ data: Buffer; from: dgram.RemoteInfo }>((resolve) => client.once('message', (data, from) => resolve({ data, from })));
    client.send('ping', port, address);
    const got = await nextDatagram(fd);
    expect(got.data.toString()).toBe('ping');
    expect(got.address).toBe(address);
    expect(got.port).toBe(client.address().port);
    expect(sendDatagram(fd, Buffer.from('pong'), got.from)).toBe(4);
    const answered = await reply;
    expect(answered.data.toString()).toBe('pong');
    expect(answered.from).toMatchObject({ address, port });
  });

  it('returns null when nothing is pending, and empty datagrams as empty data', async () => {
    const { fd, port } = await udpFd('127.0.0.1');
    expect(receiveDatagram(fd)).toBeNull();
    const client = await nodeSocket('127.0.0.1');
    client.send(Buffer.alloc(0), port, '127.0.0.1');
    expect((await nextDatagram(fd)).data.length).toBe(0);
  });

  it('reports a datagram larger than maxBytes as EMSGSIZE, consumed, never cut', async () => {
    const { fd, port } = await udpFd('127.0.0.1');
    const client = await nodeSocket('127.0.0.1');
    client.send(Buffer.alloc(100, 1), port, '127.0.0.1');
    client.send('next', port, '127.0.0.1');
    await new Promise<void>((resolve) => {
      const handle = pollStart(fd, POLL_READABLE, () => {
        pollStop(handle);
        resolve();
      });
    });
    expectSystemError(() => receiveDatagram(fd, 10), 'EMSGSIZE');
    expect((await nextDatagram(fd)).data.toString()).toBe('next');
  });

  it('refuses what is not a UDP socket, and a destination that is not one sockaddr', async () => {
    const tcp = bindSocket('127.0.0.1', await freePort('127.0.0.1'), 'tcp', 1);
    fds.push(tcp);
    expectSystemError(() => datagramAddress(tcp), 'EPROTOTYPE');
    const { fd } = await udpFd('127.0.0.1');
    for (const to of [Buffer.alloc(0), Buffer.alloc(3), Buffer.alloc(16), Buffer.alloc(28), Buffer.alloc(200, 2)]) {
      expectSystemError(() => sendDatagram(fd, Buffer.from('x'), to), 'EINVAL');
    }
    expect(() => sendDatagram(fd, Buffer.from('x'), 'to' as unknown as Buffer)).toThrow(TypeError);
    expect(() => sendDatagram(fd, Buffer.alloc(65537), Buffer.alloc(16))).toThrow(RangeError);
    expect(() => receiveDatagram(fd, 0)).toThrow(RangeError);
    expect(() => receiveDatagram(fd, 65537)).toThrow(RangeError);
    // recvmsg's own failure is thrown as itself, never read as "nothing pending".
    const file = openSync('/dev/null', 'r');
    fds.push(file);
    expect(() => receiveDatagram(file)).toThrow(expect.objectContaining({ code: 'ENOTSOCK', syscall: 'recvmsg' }));
  });

  it('leaves the socket as it was: close-on-exec, and no SO_REUSEADDR (another socket cannot share the port)', async () => {
    const before = openFdCount();
    const { fd, port } = await udpFd('127.0.0.1');
    expect(fdFlags(fd) & O_CLOEXEC).toBe(O_CLOEXEC);
    const client = await nodeSocket('127.0.0.1');
    client.send('x', port, '127.0.0.1');
    await nextDatagram(fd);
    // What dgram's bind({fd}) would have broken: with SO_REUSEADDR on ours, this second bind succeeds.
    const thief = dgram.createSocket({ type: 'udp4', reuseAddr: true });
    const code = await new Promise<string | undefined>((resolve) => {
      thief.once('error', (error: NodeJS.ErrnoException) => resolve(error.code));
      thief.bind(port, '127.0.0.1', () => resolve(undefined));
    });
    thief.close();
    expect(code).toBe('EADDRINUSE');
    closeSync(fds.pop()!);
    client.close();
    sockets.pop();
    expect(openFdCount()).toBe(before);
  });
});
