import { closeSync, fstatSync, openSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { POLL_READABLE, pollStart, pollStop, receiveMessage, sendMessage, type ReceivedMessage } from './index';
import {
  CHILD_PRELUDE,
  O_CLOEXEC,
  builtAddonPath,
  expectSystemError,
  fdFlags,
  makeTempDir,
  nativePair,
  openFdCount,
  removeTempDirs,
  startNode,
  type NativePair,
} from './test-helpers';

const pairs: NativePair[] = [];
const openFds: number[] = [];
afterEach(async () => {
  for (const fd of openFds.splice(0)) closeSync(fd);
  for (const pair of pairs.splice(0)) await pair.close();
  removeTempDirs();
});

/** A socket path (not yet listened on) in a fresh temporary directory. */
function childSocketPath(): string {
  return path.join(makeTempDir(), 'child.sock');
}

async function pair(): Promise<NativePair> {
  const p = await nativePair();
  pairs.push(p);
  return p;
}

/** Temp files opened read-only; their fds are closed after each test. */
function tempFiles(count: number): number[] {
  const dir = makeTempDir();
  return Array.from({ length: count }, (_, i) => {
    const file = path.join(dir, `f${i}`);
    writeFileSync(file, `file ${i}`);
    const fd = openSync(file, 'r');
    openFds.push(fd);
    return fd;
  });
}

/** Wait until `fd` is readable, then do one receive. */
function receiveWhenReadable(fd: number, maxBytes: number, maxFds: number): Promise<ReceivedMessage | null> {
  return new Promise((resolve, reject) => {
    const handle = pollStart(fd, POLL_READABLE, (error) => {
      pollStop(handle);
      if (error) reject(error);
      else {
        try {
          resolve(receiveMessage(fd, maxBytes, maxFds));
        } catch (caught) {
          reject(caught instanceof Error ? caught : new Error(String(caught)));
        }
      }
    });
  });
}

function expectSameFile(a: number, b: number): void {
  const sa = fstatSync(a);
  const sb = fstatSync(b);
  expect(sb.ino).toBe(sa.ino);
  expect(sb.dev).toBe(sa.dev);
}

describe('sendMessage / receiveMessage', () => {
  it('returns null when nothing is pending', async () => {
    const { fd } = await pair();
    expect(receiveMessage(fd, 1024, 4)).toBeNull();
  });

  it.each([1, 3])('passes %i fd(s) with byte-exact data', async (count) => {
    const { fd, peerFd } = await pair();
    const files = tempFiles(count);
    const data = Buffer.from([0, 1, 2, 255, 10, 13, 0]);
    expect(sendMessage(peerFd, data, files)).toBe(data.length);
    const message = await receiveWhenReadable(fd, 1024, 16);
    expect(message).not.toBeNull();
    const { data: got, fds } = message as ReceivedMessage;
    openFds.push(...fds);
    expect(got.equals(data)).toBe(true);
    expect(fds).toHaveLength(count);
    fds.forEach((received, i) => {
      expect(files).not.toContain(received); // a new descriptor, same file
      expectSameFile(files[i] as number, received);
      expect(fdFlags(received) & O_CLOEXEC).toBe(O_CLOEXEC);
    });
  });

  // [sent, maxFds]: some cases overflow the kernel's control buffer
  // (MSG_CTRUNC); others still fit it because CMSG_SPACE rounds up (e.g. 2
  // fds in the space for 1) and are caught by the addon's own count.
  it.each([
    [3, 0],
    [3, 1],
    [3, 2],
    [2, 1],
    [4, 3],
    [16, 15],
  ])('throws ECTRUNC and leaks nothing when %i fds arrive and maxFds is %i', async (sent, maxFds) => {
    const { fd, peerFd } = await pair();
    const files = tempFiles(sent);
    const before = openFdCount();
    sendMessage(peerFd, Buffer.from('x'), files);
    let caught: unknown;
    try {
      receiveMessage(fd, 1024, maxFds);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(Error);
    expect(caught).toMatchObject({
      code: 'ECTRUNC',
      syscall: 'recvmsg',
      message: 'control message truncated: peer sent more file descriptors than expected',
    });
    expect(openFdCount()).toBe(before);
  });

  it('accepts exactly maxFds fds', async () => {
    const { fd, peerFd } = await pair();
    const files = tempFiles(16);
    sendMessage(peerFd, Buffer.from('sixteen'), files);
    const message = receiveMessage(fd, 1024, 16);
    openFds.push(...(message?.fds ?? []));
    expect(message?.fds).toHaveLength(16);
    message?.fds.forEach((received, i) => expectSameFile(files[i] as number, received));
  });

  it('returns empty data and no fds at EOF', async () => {
    const { fd, peer } = await pair();
    peer.end();
    const message = await receiveWhenReadable(fd, 16, 0);
    expect(message).not.toBeNull();
    expect(message?.data.length).toBe(0);
    expect(message?.fds).toEqual([]);
  });

  it('receives data sent with net and reports EPIPE instead of SIGPIPE', async () => {
    const { fd, peer } = await pair();
    peer.write('from net');
    const message = await receiveWhenReadable(fd, 4, 0);
    expect(message?.data.toString()).toBe('from');
    expect(receiveMessage(fd, 100, 0)?.data.toString()).toBe(' net');
    const closed = new Promise((resolve) => peer.once('close', resolve));
    peer.destroy();
    await closed;
    expectSystemError(() => sendMessage(fd, Buffer.from('late'), []), 'EPIPE');
  });

  it('never raises SIGPIPE, even when a SIGPIPE listener is installed', async () => {
    const socketPath = childSocketPath();
    // With a listener, Node stops ignoring SIGPIPE. The SIGUSR2 sent after
    // the failed send travels through the same libuv signal pipe, so any
    // SIGPIPE would have been dispatched before it.
    const child = startNode(
      `${CHILD_PRELUDE}
       process.on('SIGPIPE', () => report({ signal: 'SIGPIPE' }));
       process.on('SIGUSR2', () => { report({ signal: 'SIGUSR2' }); process.exit(0); });
       const server = require('net').createServer((socket) => {
         socket.on('close', () => {
           try { addon.sendMessage(fd, Buffer.from('late'), []); } catch (e) { report(errorInfo(e)); }
           process.kill(process.pid, 'SIGUSR2');
         });
         socket.destroy();
       });
       let fd;
       server.listen(process.argv[2], () => { fd = addon.connectUnix(process.argv[2]); });`,
      [builtAddonPath(), socketPath],
    );
    const result = await child.done;
    expect(result.stderr).toBe('');
    expect(result.stdout.trim().split('\n').map((line) => JSON.parse(line) as unknown)).toEqual([
      expect.objectContaining({ code: 'EPIPE', syscall: 'sendmsg' }),
      { signal: 'SIGUSR2' },
    ]);
  });

  it('reports EAGAIN when the socket buffer is full', async () => {
    const { peerFd } = await pair();
    const chunk = Buffer.alloc(65536, 7);
    let error: unknown;
    // Nobody reads the native end, so the kernel buffers fill up.
    for (let i = 0; i < 10_000 && error === undefined; i++) {
      try {
        sendMessage(peerFd, chunk, []);
      } catch (caught) {
        error = caught;
      }
    }
    expect(error).toMatchObject({ code: 'EAGAIN', syscall: 'sendmsg' });
  });

  it('validates arguments', async () => {
    const { fd } = await pair();
    const files = tempFiles(1);
    expect(() => sendMessage(fd, Buffer.alloc(0), [])).toThrow(RangeError);
    expect(() => sendMessage(fd, Buffer.from('x'), new Array<number>(17).fill(files[0] as number))).toThrow(RangeError);
    expect(() => sendMessage(fd, Buffer.from('x'), [-1])).toThrow(RangeError);
    expect(() => sendMessage(fd, Buffer.from('x'), [0.5])).toThrow(RangeError);
    expect(() => sendMessage(fd, 'x' as unknown as Buffer, [])).toThrow(TypeError);
    expect(() => sendMessage(fd, Buffer.from('x'), 'fds' as unknown as number[])).toThrow(TypeError);
    // Stream sockets silently drop fds sent without data: refused.
    expectSystemError(() => sendMessage(fd, Buffer.alloc(0), files), 'EINVAL');
    // An fd that is not open cannot be sent.
    expectSystemError(() => sendMessage(fd, Buffer.from('x'), [2 ** 31 - 1]), 'EBADF');
    expect(() => receiveMessage(fd, 0, 0)).toThrow(RangeError);
    expect(() => receiveMessage(fd, 1024 * 1024 + 1, 0)).toThrow(RangeError);
    expect(() => receiveMessage(fd, 16, 17)).toThrow(RangeError);
    expect(() => receiveMessage(fd, 16, -1)).toThrow(RangeError);
    expectSystemError(() => receiveMessage(files[0] as number, 16, 0), 'ENOTSOCK');
  });

  it('round-trips random payloads exactly (property)', async () => {
    const { fd, peerFd } = await pair();
    const files = tempFiles(3);
    await fc.assert(
      fc.asyncProperty(
        // Small payloads (edge cases) and large ones up to 64 KiB.
        fc.oneof(fc.uint8Array({ maxLength: 64 }), fc.uint8Array({ maxLength: 65536, size: 'max' })),
        fc.integer({ min: 0, max: 3 }),
        fc.integer({ min: 1, max: 70000 }),
        (bytes, fdCount, maxBytes) => {
          const payload = Buffer.from(bytes);
          const sentFds = files.slice(0, fdCount);
          if (payload.length === 0) {
            if (fdCount === 0) expect(() => sendMessage(peerFd, payload, sentFds)).toThrow(RangeError);
            else expectSystemError(() => sendMessage(peerFd, payload, sentFds), 'EINVAL');
            return;
          }
          const chunks: Buffer[] = [];
          const receivedFds: number[] = [];
          const drain = (): void => {
            for (;;) {
              const message = receiveMessage(fd, maxBytes, 16);
              if (message === null) return;
              expect(message.data.length).toBeGreaterThan(0); // never EOF here
              chunks.push(message.data);
              receivedFds.push(...message.fds);
            }
          };
          let sent = 0;
          let pendingFds: readonly number[] = sentFds;
          // Same-host UNIX sockets: bytes written are immediately readable,
          // so alternating send and drain needs no waiting.
          for (let rounds = 0; sent < payload.length; rounds++) {
            if (rounds > 10_000) throw new Error('no progress');
            try {
              sent += sendMessage(peerFd, payload.subarray(sent), pendingFds);
              pendingFds = []; // fds travel with the first byte written
            } catch (error) {
              if ((error as { code?: unknown }).code !== 'EAGAIN') throw error;
            }
            drain();
          }
          drain();
          try {
            expect(Buffer.concat(chunks).equals(payload)).toBe(true);
            expect(receivedFds).toHaveLength(fdCount);
            receivedFds.forEach((received, i) => expectSameFile(files[i] as number, received));
          } finally {
            for (const received of receivedFds) closeSync(received);
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});
