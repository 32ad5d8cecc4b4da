import { closeSync, openSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { connectUnix, peerCredentials } from './index';
import {
  OTHER_ID,
  expectSystemError,
  handleFd,
  listenUnix,
  makeTempDir,
  removeTempDirs,
  startNode,
  type UnixServer,
} from './test-helpers';

const servers: UnixServer[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await server.close();
  removeTempDirs();
});

describe('peerCredentials', () => {
  it('reports this process on the accepted side of a net server connection', async () => {
    const unix = await listenUnix();
    servers.push(unix);
    const accepted = unix.nextConnection();
    const client = net.connect(unix.socketPath);
    const socket = await accepted;
    expect(peerCredentials(handleFd(socket))).toEqual({
      uid: process.getuid?.(),
      gid: process.getgid?.(),
      pid: process.pid,
    });
    client.destroy();
  });

  it('reports the server process on the connectUnix side', async () => {
    const unix = await listenUnix();
    servers.push(unix);
    const fd = connectUnix(unix.socketPath);
    try {
      expect(peerCredentials(fd)).toEqual({ uid: process.getuid?.(), gid: process.getgid?.(), pid: process.pid });
    } finally {
      closeSync(fd);
    }
  });

  it('reports uid 65534 for a client running as another user', async () => {
    const unix = await listenUnix({ dirMode: 0o777, everyone: true });
    servers.push(unix);
    const accepted = unix.nextConnection();
    const child = startNode(
      `const s = require('net').connect(process.argv[1]);
       s.on('connect', () => console.log('connected'));
       s.on('error', (e) => { console.error(e); process.exit(2); });
       s.on('close', () => process.exit(0));`,
      [unix.socketPath],
      { asOtherUser: true },
    );
    try {
      const socket = await accepted;
      const credentials = peerCredentials(handleFd(socket));
      // setpriv execs node in place, so the peer pid is the spawned pid.
      expect(credentials).toEqual({ uid: OTHER_ID, gid: OTHER_ID, pid: child.pid });
      socket.destroy();
      const result = await child.done;
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
    } finally {
      child.kill();
    }
  });

  it('refuses descriptors that have no UNIX peer', async () => {
    const dir = makeTempDir();
    const file = openSync(path.join(dir, 'plain'), 'w');
    try {
      expectSystemError(() => peerCredentials(file), 'ENOTSOCK');
    } finally {
      closeSync(file);
    }
    expectSystemError(() => peerCredentials(2 ** 31 - 1), 'EBADF');

    // A listening UNIX socket has no peer.
    const unix = await listenUnix();
    servers.push(unix);
    expectSystemError(() => peerCredentials(handleFd(unix.server)), 'ENOTCONN');

    // TCP sockets would get placeholder ids from SO_PEERCRED: refused.
    const tcpServer = net.createServer();
    await new Promise<void>((resolve) => tcpServer.listen({ host: '127.0.0.1', port: 0 }, resolve));
    const accepted = new Promise<net.Socket>((resolve) => tcpServer.once('connection', resolve));
    const address = tcpServer.address();
    if (address === null || typeof address === 'string') throw new Error('no address');
    const client = net.connect(address.port, '127.0.0.1');
    const socket = await accepted;
    try {
      expectSystemError(() => peerCredentials(handleFd(socket)), 'EAFNOSUPPORT');
    } finally {
      client.destroy();
      socket.destroy();
      await new Promise<void>((resolve) => tcpServer.close(() => resolve()));
    }
  });

  it('rejects invalid fds before any syscall', () => {
    expect(() => peerCredentials(-1)).toThrow(RangeError);
    expect(() => peerCredentials(1.5)).toThrow(RangeError);
    expect(() => peerCredentials('3' as unknown as number)).toThrow(TypeError);
  });
});
