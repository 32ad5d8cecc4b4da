import { closeSync, writeSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { connectUnix } from './index';
import {
  CHILD_PRELUDE,
  O_CLOEXEC,
  O_NONBLOCK,
  addonCopyForOtherUsers,
  expectSystemError,
  fdFlags,
  listenUnix,
  makeTempDir,
  removeTempDirs,
  startNode,
  type Child,
  type UnixServer,
} from './test-helpers';

const servers: UnixServer[] = [];
const children: Child[] = [];
const fds: number[] = [];
afterEach(async () => {
  for (const fd of fds.splice(0)) closeSync(fd);
  for (const child of children.splice(0)) child.kill();
  for (const server of servers.splice(0)) await server.close();
  removeTempDirs();
});

describe('connectUnix', () => {
  it('connects to a net server with a close-on-exec, non-blocking fd', async () => {
    const unix = await listenUnix();
    servers.push(unix);
    const accepted = unix.nextConnection();
    const fd = connectUnix(unix.socketPath);
    fds.push(fd);
    const socket = await accepted;
    const flags = fdFlags(fd);
    expect(flags & O_CLOEXEC).toBe(O_CLOEXEC);
    expect(flags & O_NONBLOCK).toBe(O_NONBLOCK);
    const received = new Promise<string>((resolve) => socket.once('data', (chunk) => resolve(String(chunk))));
    writeSync(fd, 'hello');
    expect(await received).toBe('hello');
  });

  it('reports ENOENT for a missing path', () => {
    expectSystemError(() => connectUnix(path.join(makeTempDir(), 'missing.sock')), 'ENOENT');
  });

  it('reports ENAMETOOLONG when the path does not fit sun_path (108 bytes with NUL)', () => {
    const dir = makeTempDir();
    const fits = path.join(dir, 'x'.repeat(107 - dir.length - 1));
    expect(Buffer.byteLength(fits)).toBe(107);
    expectSystemError(() => connectUnix(fits), 'ENOENT'); // fits: the OS answers
    expectSystemError(() => connectUnix(`${fits}y`), 'ENAMETOOLONG'); // 108: no room for NUL
    expectSystemError(() => connectUnix(`/${'a'.repeat(100_000)}`), 'ENAMETOOLONG');
    // Multi-byte characters count in UTF-8 bytes, not UTF-16 units.
    expectSystemError(() => connectUnix(`/tmp/${'é'.repeat(60)}`), 'ENAMETOOLONG');
  });

  it('rejects NUL bytes, empty paths and non-strings with TypeError', () => {
    expect(() => connectUnix('/tmp/a\0b')).toThrow(TypeError);
    expect(() => connectUnix('\0abstract')).toThrow(TypeError);
    expect(() => connectUnix('')).toThrow(TypeError);
    expect(() => connectUnix(42 as unknown as string)).toThrow(TypeError);
  });

  it('reports ECONNREFUSED for a socket file nobody listens on', async () => {
    const dir = makeTempDir();
    const socketPath = path.join(dir, 'stale.sock');
    // A listener killed with SIGKILL leaves its socket file behind.
    const child = startNode(
      `require('net').createServer().listen(process.argv[1], () => console.log('ready'));`,
      [socketPath],
    );
    children.push(child);
    await child.waitForLine('ready');
    child.kill();
    await child.done;
    expectSystemError(() => connectUnix(socketPath), 'ECONNREFUSED');
  });

  it('reports EAGAIN when the listen backlog is full', async () => {
    const dir = makeTempDir();
    const socketPath = path.join(dir, 'busy.sock');
    // The child listens with backlog 1 and then blocks its event loop, so it
    // never accepts: pending connections pile up in the kernel.
    const child = startNode(
      `require('net').createServer().listen({ path: process.argv[1], backlog: 1 }, () => {
         console.log('ready');
         Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
       });`,
      [socketPath],
    );
    children.push(child);
    await child.waitForLine('ready');
    let error: unknown;
    for (let i = 0; i < 64 && error === undefined; i++) {
      try {
        fds.push(connectUnix(socketPath));
      } catch (caught) {
        error = caught;
      }
    }
    expect((error as { code?: unknown } | undefined)?.code).toBe('EAGAIN');
    expect(fds.length).toBeGreaterThan(0);
  });

  it('reports EACCES when another user may not reach the socket', async () => {
    const unix = await listenUnix({ dirMode: 0o700 });
    servers.push(unix);
    const addon = addonCopyForOtherUsers();
    const child = startNode(
      `${CHILD_PRELUDE}
       try { report({ fd: addon.connectUnix(process.argv[2]) }); } catch (e) { report(errorInfo(e)); }`,
      [addon, unix.socketPath],
      { asOtherUser: true },
    );
    children.push(child);
    const result = await child.done;
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout)).toMatchObject({ code: 'EACCES', syscall: 'connect' });
  });
});
