import { closeSync, readFileSync } from 'node:fs';
import dgram from 'node:dgram';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { POLL_READABLE, bindSocket, pollStart, probeBind, pollStop, receiveMessage, type ReceivedMessage } from './index';
import {
  CHILD_PRELUDE,
  O_CLOEXEC,
  O_NONBLOCK,
  addonCopyForOtherUsers,
  expectSystemError,
  fdFlags,
  freePort,
  procNetEntries,
  removeTempDirs,
  startNode,
} from './test-helpers';

const fds: number[] = [];
afterEach(() => {
  for (const fd of fds.splice(0)) closeSync(fd);
  removeTempDirs();
});

function bound(...args: Parameters<typeof bindSocket>): number {
  const fd = bindSocket(...args);
  fds.push(fd);
  return fd;
}

/** Hand a listening fd to net (which then owns and closes it). */
async function serveFd(fd: number): Promise<net.Server> {
  const server = net.createServer((socket) => socket.end('hi from fd'));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ fd }, resolve);
  });
  return server;
}

function closeServer(server: net.Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

async function readAll(port: number, host: string): Promise<string> {
  const socket = net.connect({ port, host });
  let text = '';
  socket.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
  await new Promise<void>((resolve, reject) => {
    socket.on('error', reject);
    socket.on('close', () => resolve());
  });
  return text;
}

/** A loopback address unlikely to be used by anything else on this machine. */
function randomLoopback(): string {
  const octet = (): number => 1 + Math.floor(Math.random() * 254);
  return `127.${octet()}.${octet()}.${octet()}`;
}

/** A port below the kernel's ephemeral range, where no test's connection lands. */
function quietPort(): number {
  const [lowest] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
  return 20_000 + Math.floor(Math.random() * Math.max(1, (lowest ?? 32_768) - 20_000));
}


describe('bindSocket', () => {
  it('rejects port 0 and other out-of-range numbers with RangeError', () => {
    expect(() => bindSocket('127.0.0.1', 0, 'tcp', 16)).toThrow(RangeError);
    expect(() => bindSocket('::1', 0, 'tcp', 16)).toThrow(RangeError);
    expect(() => bindSocket('127.0.0.1', 65536, 'tcp', 16)).toThrow(RangeError);
    expect(() => bindSocket('127.0.0.1', 80.5, 'udp', 16)).toThrow(RangeError);
    expect(() => bindSocket('127.0.0.1', 8080, 'tcp', 0)).toThrow(RangeError);
    expect(() => bindSocket('127.0.0.1', 8080, 'tcp', 4097)).toThrow(RangeError);
    expect(() => bindSocket('127.0.0.1', 8080, 'sctp' as 'tcp', 1)).toThrow(TypeError);
    expect(() => bindSocket(127 as unknown as string, 8080, 'tcp', 1)).toThrow(TypeError);
  });

  it.each(['127.0.0.1', '::1'])('binds a listening TCP socket on %s that net can serve', async (host) => {
    const port = await freePort(host);
    const fd = bindSocket(host, port, 'tcp', 16);
    const flags = fdFlags(fd);
    expect(flags & O_CLOEXEC).toBe(O_CLOEXEC);
    expect(flags & O_NONBLOCK).toBe(0); // left blocking for whoever receives it
    const table = host === '::1' ? 'tcp6' : 'tcp';
    expect(procNetEntries(table)).toContainEqual(expect.objectContaining({ port, state: 0x0a })); // LISTEN
    const server = await serveFd(fd);
    try {
      expect(await readAll(port, host)).toBe('hi from fd');
    } finally {
      await closeServer(server);
    }
  });

  it.each([
    ['127.0.0.1', 'udp4', 'udp'],
    ['::1', 'udp6', 'udp6'],
  ] as const)('binds a UDP socket on %s that receives datagrams', async (host, type, table) => {
    const port = await freePort(host);
    const fd = bound(host, port, 'udp', 1);
    expect(fdFlags(fd) & O_CLOEXEC).toBe(O_CLOEXEC);
    expect(procNetEntries(table)).toContainEqual(expect.objectContaining({ port }));
    const received = new Promise<ReceivedMessage | null>((resolve, reject) => {
      const handle = pollStart(fd, POLL_READABLE, (error) => {
        pollStop(handle);
        if (error) reject(error);
        else resolve(receiveMessage(fd, 1500, 0));
      });
    });
    const client = dgram.createSocket(type);
    try {
      await new Promise<void>((resolve, reject) =>
        client.send('datagram', port, host, (error) => (error ? reject(error) : resolve())),
      );
      expect((await received)?.data.toString()).toBe('datagram');
      // A datagram larger than maxBytes is reported, not silently cut.
      const next = new Promise<void>((resolve) => {
        const handle = pollStart(fd, POLL_READABLE, () => {
          pollStop(handle);
          resolve();
        });
      });
      client.send('0123456789', port, host);
      await next;
      expectSystemError(() => receiveMessage(fd, 4, 0), 'EMSGSIZE');
    } finally {
      client.close();
    }
  });

  it.each(['localhost', '1.2.3', 'fe80::1%eth0', '', '127.1', '127.0.0.1\0evil', ' 127.0.0.1', '::1]', 'x'.repeat(200)])(
    'rejects %j with EINVAL',
    (address) => {
      expectSystemError(() => bindSocket(address, 8080, 'tcp', 16), 'EINVAL');
    },
  );

  it('reports EADDRINUSE for a port in use (TCP and UDP)', async () => {
    const host = randomLoopback();
    const port = await freePort(host);
    bound(host, port, 'tcp', 4);
    expectSystemError(() => bindSocket(host, port, 'tcp', 4), 'EADDRINUSE');
    bound(host, port, 'udp', 1);
    expectSystemError(() => bindSocket(host, port, 'udp', 1), 'EADDRINUSE');
  });

  it('reports EADDRNOTAVAIL for an address that is not local', () => {
    // Precondition: the kernel must not allow binding non-local addresses.
    expect(readFileSync('/proc/sys/net/ipv4/ip_nonlocal_bind', 'utf8').trim()).toBe('0');
    expectSystemError(() => bindSocket('192.0.2.1', 8080, 'tcp', 16), 'EADDRNOTAVAIL');
  });

  it('binds IPv6 only: "::" and "0.0.0.0" can share a port', async () => {
    const port = await freePort('::');
    bound('::', port, 'tcp', 4);
    bound('0.0.0.0', port, 'tcp', 4); // EADDRINUSE without IPV6_V6ONLY
  });

  it('rebinds a port that a closed connection still holds (SO_REUSEADDR)', async () => {
    const host = randomLoopback();
    const port = await freePort(host);
    const server = net.createServer();
    const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
    await new Promise<void>((resolve) => server.listen({ fd: bindSocket(host, port, 'tcp', 4) }, resolve));
    const client = net.connect({ port, host });
    client.on('error', () => undefined);
    const serverSide = await accepted;
    const clientEnded = new Promise((resolve) => client.once('end', resolve));
    serverSide.destroy(); // active close: the server side keeps the port in FIN_WAIT/TIME_WAIT
    await clientEnded;
    await closeServer(server);
    try {
      const holders = procNetEntries('tcp').filter((e) => e.port === port && e.state !== 0x0a);
      expect(holders.length).toBeGreaterThan(0); // precondition: the port is still held
      bound(host, port, 'tcp', 4);
    } finally {
      client.destroy();
    }
  });

  it('binds port 80 as root, but not as another user', async () => {
    bound(randomLoopback(), 80, 'tcp', 16);
    const start = Number(readFileSync('/proc/sys/net/ipv4/ip_unprivileged_port_start', 'utf8').trim());
    expect(start).toBeGreaterThan(80); // precondition: port 80 is privileged here
    const addon = addonCopyForOtherUsers();
    const child = startNode(
      `${CHILD_PRELUDE}
       for (const protocol of ['tcp', 'udp']) {
         try { report({ fd: addon.bindSocket('127.0.0.1', 80, protocol, 1) }); } catch (e) { report(errorInfo(e)); }
       }`,
      [addon],
      { asOtherUser: true },
    );
    const result = await child.done;
    expect(result.stderr).toBe('');
    const lines = result.stdout.trim().split('\n').map((line) => JSON.parse(line) as unknown);
    expect(lines).toEqual([
      expect.objectContaining({ code: 'EACCES', syscall: 'bind' }),
      expect.objectContaining({ code: 'EACCES', syscall: 'bind' }),
    ]);
  });
});

describe('probeBind', () => {
  it('says a free port is free, leaving nothing bound and never listening', () => {
    // Other test files share this network namespace and hold ephemeral ports
    // (32768-60999 here) on 127.0.0.1 and on wildcards; a random address and a
    // port below that range cannot meet them.
    const host = randomLoopback();
    const port = quietPort();
    expect(probeBind(host, port, 'tcp')).toBe(true);
    expect(probeBind('::1', port, 'udp')).toBe(true);
    expect(procNetEntries('tcp').filter((e) => e.port === port)).toEqual([]);
    // Free again at once: the probe closed its socket.
    expect(probeBind(host, port, 'tcp')).toBe(true);
  });

  it('throws EADDRINUSE where anyone holds the port, wildcards included, and EINVAL for a name', () => {
    const host = randomLoopback();
    const port = quietPort();
    const fd = bound(host, port, 'tcp', 16);
    expect(fd).toBeGreaterThan(2);
    expectSystemError(() => probeBind(host, port, 'tcp'), 'EADDRINUSE');
    expectSystemError(() => probeBind('0.0.0.0', port, 'tcp'), 'EADDRINUSE');
    expect(probeBind('::1', port, 'tcp')).toBe(true);
    expectSystemError(() => probeBind('localhost', port, 'tcp'), 'EINVAL');
  });
});
