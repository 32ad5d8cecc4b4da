import { closeSync, fstatSync, openSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  acceptConnections,
  bindSocket,
  pumpAdd,
  pumpClose,
  pumpOpen,
  pumpStats,
  resetSocket,
  socketAddress,
  MAX_ACCEPT,
  MAX_CONNECT_TIMEOUT_MS,
  type PumpMapping,
} from './index';
import { CHILD_PRELUDE, O_CLOEXEC, O_NONBLOCK, builtAddonPath, expectSystemError, fdFlags, openFdCount, startNode, type Child } from './test-helpers';

const fds: number[] = [];
const mappings: PumpMapping[] = [];
const children: Child[] = [];
afterEach(() => {
  for (const fd of fds.splice(0)) closeSync(fd);
  for (const mapping of mappings.splice(0)) pumpClose(mapping);
  for (const child of children.splice(0)) child.kill();
});

/** A listening TCP socket on a random loopback port (ours to close). */
function listener(): { fd: number; port: number } {
  for (let attempt = 0; ; attempt++) {
    const port = 20000 + Math.floor(Math.random() * 12000);
    try {
      const fd = bindSocket('127.0.0.1', port, 'tcp', 16);
      fds.push(fd);
      return { fd, port };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt > 100) throw error;
    }
  }
}

function open(): PumpMapping {
  const mapping = pumpOpen(1000, () => undefined);
  mappings.push(mapping);
  return mapping;
}

const isOpen = (fd: number): boolean => {
  try {
    fstatSync(fd);
    return true;
  } catch {
    return false;
  }
};

/** Connects a client to `port` and accepts it from `fd`: the accepted fd, once it arrived. */
async function acceptOne(fd: number, port: number): Promise<{ accepted: number; client: net.Socket }> {
  const client = await new Promise<net.Socket>((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port }, () => resolve(socket));
  });
  client.on('error', () => undefined);
  const [accepted] = acceptConnections(fd, 1);
  return { accepted: accepted!, client };
}

describe('pump argument checks', () => {
  it('refuses bad arguments with TypeError / RangeError before touching anything', () => {
    expect(() => pumpOpen(0, () => undefined)).toThrow(RangeError);
    expect(() => pumpOpen(MAX_CONNECT_TIMEOUT_MS + 1, () => undefined)).toThrow(RangeError);
    expect(() => pumpOpen(1.5, () => undefined)).toThrow(RangeError);
    expect(() => pumpOpen('1000' as never, () => undefined)).toThrow(TypeError);
    expect(() => pumpOpen(1000, 'callback' as never)).toThrow(TypeError);
    const mapping = open();
    for (const fake of [{}, null, 1, 'mapping', Object.create(mapping) as object]) {
      expect(() => pumpStats(fake as never)).toThrow(TypeError);
      expect(() => pumpClose(fake as never)).toThrow(TypeError);
      expect(() => pumpAdd(fake as never, 0, '127.0.0.1', 80)).toThrow(TypeError);
    }
    expect(() => pumpAdd(mapping, -1, '127.0.0.1', 80)).toThrow(RangeError);
    expect(() => pumpAdd(mapping, 0, 1 as never, 80)).toThrow(TypeError);
    expect(() => pumpAdd(mapping, 0, '127.0.0.1', 0)).toThrow(RangeError);
    expect(() => pumpAdd(mapping, 0, '127.0.0.1', 65536)).toThrow(RangeError);
    expect(() => acceptConnections(-1, 1)).toThrow(RangeError);
    expect(() => acceptConnections(0, 0)).toThrow(RangeError);
    expect(() => acceptConnections(0, MAX_ACCEPT + 1)).toThrow(RangeError);
    expect(() => resetSocket(2 ** 31)).toThrow(RangeError);
    expect(() => socketAddress('3' as never)).toThrow(TypeError);
  });

  it('pumpAdd refuses a name or a malformed address and leaves the client fd open', async () => {
    const { fd, port } = listener();
    const { accepted, client } = await acceptOne(fd, port);
    fds.push(accepted);
    const mapping = open();
    for (const address of ['localhost', '', '1.2.3', '::1%lo', '127.0.0.1\0', 'x'.repeat(100)]) {
      let caught: unknown;
      try {
        pumpAdd(mapping, accepted, address, 80);
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(TypeError);
      expect((caught as { code?: string }).code).toBe('ERR_INVALID_ARG_VALUE');
    }
    expect(isOpen(accepted)).toBe(true);
    client.destroy();
  });
});

describe('acceptConnections / resetSocket / socketAddress', () => {
  it('accepts waiting connections as close-on-exec, non-blocking fds, and nothing when none waits', async () => {
    const { fd, port } = listener();
    expect(socketAddress(fd)).toEqual({ address: '127.0.0.1', family: 'IPv4', port, listening: true });
    // bindSocket's fd is blocking: it is switched to non-blocking, so an empty queue answers at once.
    expect(acceptConnections(fd, 4)).toEqual([]);
    expect(fdFlags(fd) & O_NONBLOCK).toBe(O_NONBLOCK);
    const clients = await Promise.all([0, 1, 2].map(() => new Promise<net.Socket>((resolve) => {
      const socket = net.connect({ host: '127.0.0.1', port }, () => resolve(socket));
    })));
    const accepted = acceptConnections(fd, 2);
    accepted.push(...acceptConnections(fd, 4));
    expect(accepted).toHaveLength(3);
    for (const conn of accepted) {
      fds.push(conn);
      expect(fdFlags(conn) & (O_CLOEXEC | O_NONBLOCK)).toBe(O_CLOEXEC | O_NONBLOCK);
    }
    clients.forEach((client) => client.destroy());
  });

  it('resetSocket resets the peer, and refuses what is not a socket', async () => {
    const { fd, port } = listener();
    const { accepted, client } = await acceptOne(fd, port);
    const outcome = new Promise<string | undefined>((resolve) => {
      client.on('error', (error: NodeJS.ErrnoException) => resolve(error.code));
      client.on('close', () => resolve(undefined));
    });
    expect(fdFlags(accepted) & (O_CLOEXEC | O_NONBLOCK)).toBe(O_CLOEXEC | O_NONBLOCK);
    resetSocket(accepted);
    expect(await outcome).toBe('ECONNRESET');
    const file = openSync('/dev/null', 'r');
    fds.push(file);
    expectSystemError(() => resetSocket(file), 'ENOTSOCK');
    expect(isOpen(file)).toBe(true);
    expectSystemError(() => socketAddress(file), 'ENOTSOCK');
  });

  it('pumpAdd on a closed mapping resets the client and says EBADF', async () => {
    const { fd, port } = listener();
    const { accepted, client } = await acceptOne(fd, port);
    const mapping = pumpOpen(1000, () => undefined);
    pumpClose(mapping);
    pumpClose(mapping); // idempotent
    expectSystemError(() => pumpAdd(mapping, accepted, '127.0.0.1', port), 'EBADF');
    expect(isOpen(accepted)).toBe(false);
    client.destroy();
  });

  it("pumpAdd tries the name's other address when the first refuses (a target on 127.0.0.1 only, named by ::1 first), and fails with the reason without one", async () => {
    const target = net.createServer((socket) => socket.end('from the target'));
    await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', resolve));
    const targetPort = (target.address() as net.AddressInfo).port;
    try {
      const { fd, port } = listener();
      // With the other address: the bytes come through.
      const reports: number[][] = [];
      const mapping = pumpOpen(1000, (closed, failed, lastErrno) => reports.push([closed, failed, lastErrno]));
      mappings.push(mapping);
      const first = await acceptOne(fd, port);
      const text = new Promise<string>((resolve) => {
        let got = '';
        first.client.setEncoding('utf8').on('data', (chunk: string) => (got += chunk)).on('end', () => resolve(got));
      });
      pumpAdd(mapping, first.accepted, '::1', targetPort, '127.0.0.1');
      expect(await text).toBe('from the target');
      first.client.destroy();
      // Without it: the client is reset, and the mapping hears why.
      const second = await acceptOne(fd, port);
      const outcome = new Promise<string | undefined>((resolve) => {
        second.client.on('error', (error: NodeJS.ErrnoException) => resolve(error.code));
        second.client.on('close', () => resolve(undefined));
      });
      pumpAdd(mapping, second.accepted, '::1', targetPort);
      expect(await outcome).toBe('ECONNRESET');
      await vi.waitFor(() => expect(reports.some(([, failed]) => failed === 1)).toBe(true));
      expect(reports.find(([, failed]) => failed === 1)![2]).toBe(os.constants.errno.ECONNREFUSED);
    } finally {
      await new Promise<void>((resolve) => target.close(() => resolve()));
    }
  });

  it('a closed mapping sends one last report, and its statistics stay readable', async () => {
    const reports: unknown[][] = [];
    const finished = new Promise<void>((resolve) => {
      const mapping = pumpOpen(1000, (...args) => {
        reports.push(args);
        if (args[4]) resolve();
      });
      pumpClose(mapping);
      expect(pumpStats(mapping)).toEqual({ bytesIn: 0, bytesOut: 0, queued: 0 });
    });
    await finished;
    expect(reports).toEqual([[0, 0, 0, 0, true, false]]);
  });

  it('counts nothing as queued once a connection whose target went away has closed', async () => {
    // The target closes at once; the half-open client still writes. What the pump read but could not
    // send (the target's socket is gone: EPIPE) must not stay counted as queued after the pair closed.
    const target = net.createServer((socket) => {
      socket.on('error', () => undefined);
      socket.end();
      socket.destroy();
    });
    await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', resolve));
    const targetPort = (target.address() as net.AddressInfo).port;
    let closed = 0;
    let onClosed: (() => void) | undefined;
    const mapping = pumpOpen(1000, (count) => {
      closed += count;
      if (closed > 0) onClosed?.();
    });
    mappings.push(mapping);
    const { fd, port } = listener();
    const client = await new Promise<net.Socket>((resolve) => {
      const socket = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true }, () => resolve(socket));
    });
    client.on('error', () => undefined);
    const [accepted] = acceptConnections(fd, 1);
    pumpAdd(mapping, accepted!, '127.0.0.1', targetPort);
    await new Promise((resolve) => client.once('end', resolve)); // the target's FIN came through
    const gone = new Promise<void>((resolve) => (onClosed = resolve));
    client.write('a');
    setTimeout(() => client.write('bbbb'), 200);
    await gone;
    client.destroy();
    await new Promise<void>((resolve) => target.close(() => resolve()));
    expect(pumpStats(mapping)).toMatchObject({ queued: 0 });
  });
});

describe('pumpClose in a process with nothing else to do', () => {
  it('keeps the process up until the last report has arrived', async () => {
    const script = `${CHILD_PRELUDE}
      const mapping = addon.pumpOpen(1000, (closed, failed, lastErrno, exhausted, finished) => {
        if (finished) report('finished');
      });
      addon.pumpClose(mapping);
    `;
    const child = startNode(script, [builtAddonPath()]);
    children.push(child);
    const result = await child.done;
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe('"finished"\n');
  });
});

describe('when the pump thread cannot start', () => {
  it('pumpOpen throws the system error, leaks nothing, and starts the thread once it can', async () => {
    // A fresh process (the thread starts once per process), out of descriptors for the poller.
    const script = `${CHILD_PRELUDE}
      const fs = require('node:fs');
      const before = fs.readdirSync('/proc/self/fd').length;
      const held = [];
      for (;;) { try { held.push(fs.openSync('/dev/null', 'r')); } catch { break; } }
      let failure;
      try { addon.pumpOpen(1000, () => {}); } catch (e) { failure = errorInfo(e); }
      held.forEach((fd) => fs.closeSync(fd));
      const after = fs.readdirSync('/proc/self/fd').length;
      const mapping = addon.pumpOpen(1000, () => {});
      addon.pumpClose(mapping);
      report({ failure, leaked: after - before });
      process.exit(0);
    `;
    const child = startNode(script, [builtAddonPath()]);
    children.push(child);
    const result = await child.done;
    expect(result.code, result.stderr).toBe(0);
    const { failure, leaked } = JSON.parse(result.stdout) as { failure: { code: string; syscall: string }; leaked: number };
    expect(failure.code).toMatch(/^E[MN]FILE$/);
    expect(['epoll_create1', 'kqueue']).toContain(failure.syscall);
    expect(leaked).toBe(0);
  });

  it('moves bulk without a pipe when no descriptor is left for one: byte for byte, nothing reset', async () => {
    // A fresh process (no pooled pipes): a connection is up, then every descriptor is taken, then 8 MiB
    // each way goes through it. Bulk would splice through a pipe; with none to be had it must fall back
    // to reading and writing, not end the connection (the JS budget counts sockets only).
    const script = `${CHILD_PRELUDE}
      const fs = require('node:fs');
      const net = require('node:net');
      const { createHash } = require('node:crypto');
      const reports = { closed: 0, exhausted: 0 };
      const mapping = addon.pumpOpen(1000, (closed, failed, lastErrno, exhausted) => {
        reports.closed += closed;
        reports.exhausted += exhausted;
      });
      const echo = net.createServer((socket) => socket.pipe(socket));
      echo.listen(0, '127.0.0.1', () => {
        let listenFd, port;
        for (let attempt = 0; listenFd === undefined; attempt++) {
          port = 20000 + Math.floor(Math.random() * 12000);
          try { listenFd = addon.bindSocket('127.0.0.1', port, 'tcp', 4); } catch (e) { if (e.code !== 'EADDRINUSE' || attempt > 100) throw e; }
        }
        const client = net.connect({ host: '127.0.0.1', port }, () => {
          let fds = [];
          while (fds.length === 0) fds = addon.acceptConnections(listenFd, 1);
          addon.pumpAdd(mapping, fds[0], '127.0.0.1', echo.address().port);
          client.write('x');
          client.once('data', () => {
            const held = [];
            for (;;) { try { held.push(fs.openSync('/dev/null', 'r')); } catch { break; } }
            const total = 8 * 1024 * 1024;
            const sent = createHash('sha256');
            const got = createHash('sha256');
            let length = 0;
            client.on('data', (chunk) => {
              got.update(chunk);
              length += chunk.length;
              if (length === total) {
                held.forEach((fd) => fs.closeSync(fd));
                report({ same: got.digest('hex') === sent.digest('hex'), length, held: held.length, reports });
                process.exit(0);
              }
            });
            for (let i = 0; i < total / 65536; i++) {
              const block = Buffer.alloc(65536, i % 251);
              sent.update(block);
              client.write(block);
            }
          });
        });
      });
    `;
    const child = startNode(script, [builtAddonPath()]);
    children.push(child);
    const result = await child.done;
    expect(result.code, result.stderr).toBe(0);
    const outcome = JSON.parse(result.stdout) as { same: boolean; length: number; held: number; reports: { closed: number; exhausted: number } };
    expect(outcome.held).toBeGreaterThan(0);
    expect(outcome).toMatchObject({ same: true, length: 8 * 1024 * 1024, reports: { closed: 0, exhausted: 0 } });
  });

  it('opens no descriptor per mapping (one poller per process)', () => {
    open();
    const before = openFdCount();
    for (let i = 0; i < 10; i++) open();
    expect(openFdCount()).toBe(before);
  });
});
