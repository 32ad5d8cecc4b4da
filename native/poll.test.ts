import { closeSync, openSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  POLL_READABLE,
  POLL_WRITABLE,
  connectUnix,
  pollStart,
  pollStop,
  pollUpdate,
  receiveMessage,
  sendMessage,
  type PollHandle,
} from './index';
import {
  CHILD_PRELUDE,
  builtAddonPath,
  expectSystemError,
  listenUnix,
  makeTempDir,
  nativePair,
  removeTempDirs,
  startNode,
  type NativePair,
  type UnixServer,
} from './test-helpers';

const pairs: NativePair[] = [];
const handles: PollHandle[] = [];
const servers: UnixServer[] = [];
afterEach(async () => {
  for (const handle of handles.splice(0)) pollStop(handle);
  for (const pair of pairs.splice(0)) await pair.close();
  for (const server of servers.splice(0)) await server.close();
  removeTempDirs();
});

async function pair(): Promise<NativePair> {
  const p = await nativePair();
  pairs.push(p);
  return p;
}

/** Start polling; resolves the first event (error or mask). */
function firstEvent(fd: number, events: number): { handle: PollHandle; event: Promise<[Error | null, number]> } {
  let resolveEvent: (value: [Error | null, number]) => void = () => undefined;
  const event = new Promise<[Error | null, number]>((resolve) => (resolveEvent = resolve));
  const handle = pollStart(fd, events, (error, mask) => resolveEvent([error, mask]));
  handles.push(handle);
  return { handle, event };
}

describe('pollStart / pollUpdate / pollStop', () => {
  it('fires readable when the peer writes', async () => {
    const { fd, peer } = await pair();
    const { handle, event } = firstEvent(fd, POLL_READABLE);
    expect(handle.fd).toBe(fd);
    peer.write('ping');
    expect(await event).toEqual([null, POLL_READABLE]);
    expect(receiveMessage(fd, 16, 0)?.data.toString()).toBe('ping');
  });

  it('pollStop is idempotent and the callback stops firing', async () => {
    const { fd, peer } = await pair();
    const early = pollStart(fd, POLL_READABLE, () => undefined);
    pollStop(early);
    pollStop(early); // stopped before any event: still fine

    let calls = 0;
    let resolveFirst: () => void = () => undefined;
    const first = new Promise<void>((resolve) => (resolveFirst = resolve));
    const handle = pollStart(fd, POLL_READABLE, () => {
      calls++;
      pollStop(handle);
      pollStop(handle); // inside the callback too
      resolveFirst();
    });
    peer.write('unread'); // never read: readiness is level-triggered
    await first;
    // A second poll on the same fd fires on the next loop turn; had the first
    // one survived pollStop, it would have fired again in that same turn.
    const second = firstEvent(fd, POLL_READABLE);
    expect(await second.event).toEqual([null, POLL_READABLE]);
    expect(calls).toBe(1);
  });

  it('pollUpdate switches to writable', async () => {
    const { fd } = await pair();
    const events: number[] = [];
    let resolveWritable: () => void = () => undefined;
    const writable = new Promise<void>((resolve) => (resolveWritable = resolve));
    const handle = pollStart(fd, POLL_READABLE, (error, mask) => {
      expect(error).toBeNull();
      events.push(mask);
      if (mask & POLL_WRITABLE) resolveWritable();
    });
    handles.push(handle);
    pollUpdate(handle, POLL_WRITABLE);
    await writable;
    expect(events).toEqual([POLL_WRITABLE]); // nothing was ever readable
    pollUpdate(handle, POLL_READABLE | POLL_WRITABLE);
  });

  it('refuses pollUpdate after pollStop, and after the fd was closed', async () => {
    const { fd } = await pair();
    const handle = pollStart(fd, POLL_READABLE, () => undefined);
    pollStop(handle);
    expectSystemError(() => pollUpdate(handle, POLL_WRITABLE), 'EBADF');

    // Closing before pollStop breaks the contract; the update is refused
    // instead of letting libuv abort on the dead descriptor. (All
    // synchronous, so the loop never sees the closed fd.)
    const unix = await listenUnix();
    servers.push(unix);
    const other = connectUnix(unix.socketPath);
    const orphan = pollStart(other, POLL_READABLE, () => undefined);
    closeSync(other);
    expectSystemError(() => pollUpdate(orphan, POLL_WRITABLE), 'EBADF');
    pollStop(orphan);
  });

  it('passes an errno error when the OS reports a socket error', async () => {
    const dir = makeTempDir();
    const socketPath = path.join(dir, 'paused.sock');
    // pauseOnConnect: libuv never reads the server side, so data stays queued.
    const server = net.createServer({ pauseOnConnect: true });
    const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
    await new Promise<void>((resolve) => server.listen(socketPath, resolve));
    const fd = connectUnix(socketPath);
    try {
      const serverSide = await accepted;
      sendMessage(fd, Buffer.from('never read'), []);
      const closed = new Promise((resolve) => serverSide.once('close', resolve));
      serverSide.destroy(); // closing with unread data resets our end (ECONNRESET)
      await closed;
      const { event } = firstEvent(fd, POLL_READABLE);
      const [error, mask] = await event;
      expect(mask).toBe(0);
      expect(error).toBeInstanceOf(Error);
      expect(error).toMatchObject({ code: expect.stringMatching(/^E[A-Z]+$/), syscall: 'uv_poll' });
      expect(typeof (error as unknown as { errno: unknown }).errno).toBe('number');
    } finally {
      for (const handle of handles.splice(0)) pollStop(handle);
      closeSync(fd);
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('reports errors for fds it cannot poll, and validates arguments', async () => {
    const { fd, peerFd } = await pair();
    const dir = makeTempDir();
    const file = path.join(dir, 'plain');
    writeFileSync(file, 'x');
    const plain = openSync(file, 'r');
    try {
      expectSystemError(() => pollStart(plain, POLL_READABLE, () => undefined), 'EPERM'); // regular file
    } finally {
      closeSync(plain);
    }
    expectSystemError(() => pollStart(peerFd, POLL_READABLE, () => undefined), 'EEXIST'); // libuv owns it
    expectSystemError(() => pollStart(2 ** 31 - 1, POLL_READABLE, () => undefined), 'EBADF');
    expect(() => pollStart(fd, 0, () => undefined)).toThrow(RangeError);
    expect(() => pollStart(fd, 4, () => undefined)).toThrow(RangeError);
    expect(() => pollStart(fd, POLL_READABLE, 'cb' as unknown as () => void)).toThrow(TypeError);
    const fake = Object.freeze({ fd });
    expect(() => pollStop(fake)).toThrow(TypeError);
    expect(() => pollUpdate(fake, POLL_READABLE)).toThrow(TypeError);
    const handle = pollStart(fd, POLL_READABLE, () => undefined);
    handles.push(handle);
    expect(() => pollUpdate(handle, 0)).toThrow(RangeError);
    expect(Object.isFrozen(handle)).toBe(true);
  });

  it('reports an exception thrown by the callback as uncaught', async () => {
    const unix = await listenUnix();
    servers.push(unix);
    const child = startNode(
      `${CHILD_PRELUDE}
       process.on('uncaughtException', (e) => { report({ uncaught: e.message }); process.exit(0); });
       const fd = addon.connectUnix(process.argv[2]);
       addon.pollStart(fd, 2, () => { throw new Error('boom from callback'); });`,
      [builtAddonPath(), unix.socketPath],
    );
    const result = await child.done;
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout)).toEqual({ uncaught: 'boom from callback' });
    expect(result.code).toBe(0);
  });

  it('stops polling when the handle is garbage-collected without pollStop', async () => {
    const unix = await listenUnix();
    servers.push(unix);
    // The poll would keep the event loop alive forever; the process can only
    // exit by itself if the finalizer stopped it. (The unref'd timer only
    // turns a hang into a clear failure.)
    const child = startNode(
      `${CHILD_PRELUDE}
       const fd = addon.connectUnix(process.argv[2]);
       (() => { addon.pollStart(fd, 1, () => report({ unexpected: 'event' })); })();
       setTimeout(() => { report({ alive: true }); process.exit(3); }, 30000).unref();
       setImmediate(() => { globalThis.gc(); report({ collected: true }); });
       process.on('exit', (code) => report({ exit: code }));`,
      [builtAddonPath(), unix.socketPath],
      { nodeFlags: ['--expose-gc'] },
    );
    const result = await child.done;
    expect(result.stderr).toBe('');
    expect(result.stdout.trim().split('\n').map((l) => JSON.parse(l) as unknown)).toEqual([{ collected: true }, { exit: 0 }]);
  });

  it('closes active polls when a worker thread exits or is terminated', async () => {
    const unix = await listenUnix();
    servers.push(unix);
    const child = startNode(
      `const { Worker } = require('worker_threads');
       const [addonPath, socketPath] = process.argv.slice(1);
       const source = \`
         const { parentPort, workerData } = require('worker_threads');
         const m = { exports: {} };
         process.dlopen(m, workerData.addonPath);
         const fd = m.exports.connectUnix(workerData.socketPath);
         globalThis.keep = m.exports.pollStart(fd, 1, () => {});
         parentPort.postMessage('ready');
         if (workerData.exit) process.exit(0);
       \`;
       const run = (exit) => new Promise((resolve, reject) => {
         const worker = new Worker(source, { eval: true, workerData: { addonPath, socketPath, exit } });
         worker.on('error', reject);
         worker.on('message', () => { if (!exit) worker.terminate(); });
         worker.on('exit', resolve);
       });
       (async () => {
         console.log('exit:' + await run(true));
         console.log('terminate:' + await run(false));
       })();`,
      [builtAddonPath(), unix.socketPath],
    );
    const result = await child.done;
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe('exit:0\nterminate:1\n');
    expect(result.code).toBe(0);
  });
});
