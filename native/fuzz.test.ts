/**
 * Garbage in, no crash out: every export, called directly on the addon (no
 * TypeScript checks in front) and through the wrapper, either returns or
 * throws a TypeError, a RangeError, or a system error ({code, errno, syscall}).
 */
import dgram from 'node:dgram';
import { closeSync, fstatSync, mkdirSync, openSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIRFD_INDEX, atShapes, garbage, maybe } from './fuzz-arbitraries';
import { BINDING_FUNCTIONS } from './loader';
import * as wrapper from './index';
import {
  builtAddonPath,
  freePort,
  listenUnix,
  makeTempDir,
  nativePair,
  openFdCount,
  removeTempDirs,
  type NativePair,
  type UnixServer,
} from './test-helpers';

type AnyFunction = (...args: unknown[]) => unknown;
type Api = Record<ExportName, AnyFunction>;

const EXPORTS = BINDING_FUNCTIONS;
type ExportName = (typeof EXPORTS)[number];

/** Exports whose first argument is a descriptor the call acts on. */
const ACTS_ON_FD: ReadonlySet<ExportName> = new Set(['sendMessage', 'receiveMessage', 'pollStart', 'drainAddressWatch', 'acceptConnections', 'socketAddress', 'datagramAddress', 'receiveDatagram', 'sendDatagram']);

/** Replaced, at call time, by a fresh socket of our own (the calls below may close it; it is closed after if not). */
const FRESH_SOCKET = Symbol('fresh socket');

/** A UDP socket on a free loopback port: a socket nobody else holds, which pumpAdd refuses (no TCP) and resetSocket closes. */
function freshSocket(): number {
  for (;;) {
    try {
      return wrapper.bindSocket('127.0.0.1', 20000 + Math.floor(Math.random() * 12000), 'udp', 1);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
    }
  }
}

/** Closes `fd` if the call left it open (same socket, by inode). */
function closeIfStill(fd: number, ino: number): void {
  try {
    if (fstatSync(fd).ino === ino) closeSync(fd);
  } catch {
    // closed by the call
  }
}

function loadRaw(): Api {
  const mod: { exports: unknown } = { exports: {} };
  process.dlopen(mod, builtAddonPath());
  return mod.exports as Api;
}

function wrapped(): Api {
  const api = {} as Api;
  for (const name of EXPORTS) api[name] = wrapper[name] as AnyFunction;
  return api;
}

let pair: NativePair;
let server: UnixServer;
let socketPath: string;
let fileFd: number;
let stoppedHandle: wrapper.PollHandle;
let fuzzDir: string;
let dirFd: number;
let watchFd: number;
/** A UDP socket of our own for the datagram exports, a peer that sends to it, and the peer's address as the addon gives it. */
let udpFd: number;
let udpPeer: dgram.Socket;
let udpPort: number;
let udpPeerAddress: Buffer;
let liveMapping: wrapper.PumpMapping;
let closedMapping: wrapper.PumpMapping;

beforeAll(async () => {
  pair = await nativePair();
  server = await listenUnix();
  socketPath = server.socketPath;
  const file = path.join(makeTempDir(), 'plain');
  writeFileSync(file, 'plain');
  fileFd = openSync(file, 'r');
  // The *at() exports create, rename and remove entries: only ever here.
  fuzzDir = realpathSync(makeTempDir());
  writeFileSync(path.join(fuzzDir, 'f'), 'file');
  mkdirSync(path.join(fuzzDir, 'd'));
  symlinkSync('f', path.join(fuzzDir, 'l'));
  symlinkSync('d', path.join(fuzzDir, 'ld'));
  dirFd = wrapper.openDirectoryNoFollow(fuzzDir).fd;
  // An address watch of our own, so drainAddressWatch reaches its read loop, not only its checks.
  watchFd = wrapper.openAddressWatch();
  udpPort = await freePort('127.0.0.1');
  udpFd = wrapper.bindSocket('127.0.0.1', udpPort, 'udp', 1);
  udpPeer = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => udpPeer.bind(0, '127.0.0.1', resolve));
  udpPeer.on('message', () => undefined);
  udpPeerAddress = await new Promise<Buffer>((resolve) => {
    const handle = wrapper.pollStart(udpFd, wrapper.POLL_READABLE, () => {
      const got = wrapper.receiveDatagram(udpFd);
      if (got === null) return;
      wrapper.pollStop(handle);
      resolve(got.from);
    });
    udpPeer.send('hello', udpPort, '127.0.0.1');
  });
  stoppedHandle = wrapper.pollStart(pair.fd, wrapper.POLL_READABLE, () => undefined);
  // Started here, not during the fuzzing: the pump thread's poller holds descriptors for the process's life.
  liveMapping = wrapper.pumpOpen(1000, () => undefined);
  closedMapping = wrapper.pumpOpen(1000, () => undefined);
  wrapper.pumpClose(closedMapping);
  wrapper.pollStop(stoppedHandle);
});

afterAll(async () => {
  closeSync(fileFd);
  closeSync(dirFd);
  closeSync(watchFd);
  closeSync(udpFd);
  udpPeer.close();
  wrapper.pumpClose(liveMapping);
  await pair.close();
  await server.close();
  removeTempDirs();
});

function isAcceptableError(error: unknown): boolean {
  if (error instanceof TypeError || error instanceof RangeError) return true;
  if (!(error instanceof Error)) return false;
  const { code, errno, syscall } = error as Error & { code?: unknown; errno?: unknown; syscall?: unknown };
  return typeof code === 'string' && /^E[A-Z0-9]+$/.test(code) && typeof errno === 'number' && typeof syscall === 'string';
}

/**
 * The test process also holds descriptors it does not own (Vitest's IPC
 * channel, stdio). Reading from or polling those would disturb the runner,
 * so a descriptor-shaped argument that is open but not ours is swapped for
 * our own socket, or, for the *at() exports (which create, rename and remove
 * entries), for our scratch directory. Everything else stays as generated.
 */
function sanitize(name: ExportName, args: unknown[]): unknown[] {
  const owned = new Set([pair.fd, fileFd, dirFd, watchFd, udpFd]);
  const foreign = (value: unknown): boolean =>
    typeof value === 'number' && Number.isInteger(value) && value >= 0 && value < 2 ** 30 && !owned.has(value);
  const dirfdIndex = DIRFD_INDEX[name];
  if (dirfdIndex !== undefined) return args.map((arg, i) => (i === dirfdIndex && foreign(arg) ? dirFd : arg));
  if (ACTS_ON_FD.has(name) && foreign(args[0])) return [pair.fd, ...args.slice(1)];
  // These close the socket they get: only ever a fresh one of ours, never the pair's or the runner's.
  const anyFd = (value: unknown): boolean => typeof value === 'number' && Number.isInteger(value) && value >= 0 && value < 2 ** 30;
  if (name === 'resetSocket' && anyFd(args[0]) && args[0] !== fileFd) return [FRESH_SOCKET, ...args.slice(1)];
  if (name === 'pumpAdd' && anyFd(args[1])) return [args[0], FRESH_SOCKET, ...args.slice(2)];
  return args;
}

/** Replaced, at call time, by a freshly started poll handle (stopped afterwards). */
const LIVE_HANDLE = Symbol('live poll handle');

function shapedArguments(name: ExportName): fc.Arbitrary<unknown[]> {
  const fd = maybe(fc.constantFrom(pair.fd, fileFd, 2 ** 31 - 1));
  const events = maybe(fc.integer({ min: 0, max: 4 }));
  const handle = maybe(fc.constantFrom<unknown>(LIVE_HANDLE, stoppedHandle));
  const mapping = maybe(fc.constantFrom<unknown>(liveMapping, closedMapping));
  const address = maybe(
    fc.oneof(
      fc.ipV4(),
      fc.ipV6(),
      fc.ipV4Extended(),
      fc.constantFrom('127.0.0.1', '::1', '192.0.2.1', 'fe80::1%lo', 'localhost', '', '1.2.3', '127.0.0.1\0x'),
    ),
  );
  const shapes: Record<ExportName, fc.Arbitrary<unknown>[]> = {
    peerCredentials: [fd],
    connectUnix: [maybe(fc.oneof(fc.string(), fc.constantFrom(socketPath, `${socketPath}\0`, 'x'.repeat(200))))],
    sendMessage: [
      fd,
      maybe(fc.uint8Array({ maxLength: 256 }).map((bytes) => Buffer.from(bytes))),
      maybe(fc.array(fc.constantFrom(fileFd, pair.fd, 2 ** 31 - 1), { maxLength: 18 })),
    ],
    receiveMessage: [fd, maybe(fc.integer({ min: 0, max: 2 ** 20 + 1 })), maybe(fc.integer({ min: -1, max: 17 }))],
    bindSocket: [
      address,
      maybe(fc.integer({ min: 0, max: 65536 })),
      maybe(fc.constantFrom('tcp', 'udp', 'TCP', 'sctp', 'tcp\0')),
      maybe(fc.integer({ min: 0, max: 4097 })),
    ],
    probeBind: [address, maybe(fc.integer({ min: 0, max: 65536 })), maybe(fc.constantFrom('tcp', 'udp', 'TCP', 'sctp', 'tcp\0'))],
    pollStart: [fd, events, maybe(fc.func(fc.anything()))],
    pollUpdate: [handle, events],
    pollStop: [handle],
    // Sets this test process's malloc trim threshold: harmless here, and the bounds are what is under test.
    setHeapTrimThreshold: [maybe(fc.oneof(fc.integer({ min: -1, max: 2 ** 30 + 1 }), fc.double(), fc.constantFrom(2 ** 31, 2 ** 53)))],
    // Validates its name everywhere; then ENOSYS off macOS, and ESRCH/ENOENT on a Mac (no launchd job here).
    launchActivateSocket: [maybe(fc.oneof(fc.string(), fc.constantFrom('Listener', '', 'x\0', 'n'.repeat(256), '\ud800')))],
    // Takes no arguments: whatever comes is ignored, and each watch opened is closed below.
    openAddressWatch: [],
    // A watch, and descriptors that are not one (refused unread: the pair's data stays for drain()).
    drainAddressWatch: [maybe(fc.constantFrom(watchFd, pair.fd, fileFd, dirFd, 2 ** 31 - 1))],
    // No arguments; whatever is passed is ignored. Raising this process's soft limit to its hard one is harmless.
    fileLimit: [maybe(fc.anything())],
    raiseFileLimit: [maybe(fc.anything())],
    datagramAddress: [maybe(fc.constantFrom(udpFd, pair.fd, fileFd, 2 ** 31 - 1))],
    receiveDatagram: [maybe(fc.constantFrom(udpFd, pair.fd, fileFd, 2 ** 31 - 1)), maybe(fc.integer({ min: -1, max: 65537 }))],
    // Destinations: the peer (loopback only), or buffers that are not one sockaddr (never a random address: nothing leaves this machine).
    sendDatagram: [
      maybe(fc.constantFrom(udpFd, pair.fd, fileFd, 2 ** 31 - 1)),
      maybe(fc.uint8Array({ maxLength: 2048 }).map((bytes) => Buffer.from(bytes))),
      maybe(fc.constantFrom(udpPeerAddress, Buffer.alloc(0), Buffer.alloc(16), Buffer.alloc(28), Buffer.alloc(5, 2), udpPeerAddress.subarray(0, 8))),
    ],
    pumpOpen: [maybe(fc.oneof(fc.integer({ min: -1, max: 2 ** 27 }), fc.double())), maybe(fc.func(fc.anything()))],
    pumpAdd: [mapping, maybe(fc.constantFrom<unknown>(FRESH_SOCKET, 2 ** 31 - 1, -1)), address, maybe(fc.integer({ min: 0, max: 65536 })), maybe(address)],
    pumpClose: [mapping],
    pumpStats: [mapping],
    acceptConnections: [fd, maybe(fc.integer({ min: 0, max: 1025 }))],
    // fileFd (not a socket: refused, left open) or a fresh socket of ours (closed with a reset).
    resetSocket: [maybe(fc.constantFrom<unknown>(FRESH_SOCKET, fileFd, 2 ** 31 - 1))],
    socketAddress: [fd],
    ...atShapes({ dir: fuzzDir, dirFd, fileFd, socketFd: pair.fd }),
  };
  // Also drop trailing arguments now and then (missing means undefined).
  return fc
    .tuple(fc.tuple(...shapes[name]), fc.nat(shapes[name].length))
    .map(([args, drop]) => args.slice(0, args.length - (drop % 2 === 0 ? 0 : drop)));
}

function argumentsFor(name: ExportName): fc.Arbitrary<unknown[]> {
  return fc.oneof(shapedArguments(name), fc.array(garbage(), { maxLength: 5 }));
}

/** Receive and close everything the native end has pending. */
function drain(): void {
  for (;;) {
    const message = wrapper.receiveMessage(pair.fd, 65536, 16);
    if (message === null || (message.data.length === 0 && message.fds.length === 0)) return;
    for (const fd of message.fds) closeSync(fd);
  }
}

function fuzz(api: Api): void {
  const before = openFdCount();
  for (const name of EXPORTS) {
    fc.assert(
      fc.property(argumentsFor(name), fc.integer({ min: -1, max: 4 }), (rawArgs, peerFds) => {
        const args = sanitize(name, rawArgs);
        const fresh: Array<{ fd: number; ino: number }> = [];
        const live = args.map((arg) => {
          if (arg === LIVE_HANDLE) return wrapper.pollStart(pair.fd, wrapper.POLL_READABLE, () => undefined);
          if (arg !== FRESH_SOCKET) return arg;
          const fd = freshSocket();
          fresh.push({ fd, ino: fstatSync(fd).ino });
          return fd;
        });
        // Give receiveDatagram something to read now and then (it arrives at once on loopback, or on a later run).
        if (name === 'receiveDatagram' && peerFds >= 0) udpPeer.send('fuzz', udpPort, '127.0.0.1');
        // Give receiveMessage something to read now and then, fds included.
        if (name === 'receiveMessage' && peerFds >= 0) {
          wrapper.sendMessage(pair.peerFd, Buffer.from('fuzz'), Array<number>(peerFds).fill(fileFd));
        }
        let result: unknown;
        try {
          result = api[name](...live);
        } catch (error) {
          expect(isAcceptableError(error), `${name} threw ${String(error)}`).toBe(true);
          return;
        } finally {
          live.forEach((arg, i) => {
            if (args[i] === LIVE_HANDLE) wrapper.pollStop(arg as wrapper.PollHandle);
          });
          drain();
          for (const { fd, ino } of fresh) closeIfStill(fd, ino);
        }
        // Clean up anything that actually succeeded.
        if ((name === 'connectUnix' || name === 'bindSocket' || name === 'openFileAt' || name === 'openAddressWatch') && typeof result === 'number') {
          closeSync(result);
        }
        if (name === 'openDirectoryNoFollow') closeSync((result as wrapper.OpenedDirectory).fd);
        if (name === 'pollStart') wrapper.pollStop(result as wrapper.PollHandle);
        if (name === 'pumpOpen') wrapper.pumpClose(result as wrapper.PumpMapping);
        if (name === 'acceptConnections') for (const fd of result as number[]) closeSync(fd);
        if (name === 'receiveMessage' && result !== null) {
          for (const fd of (result as wrapper.ReceivedMessage).fds) closeSync(fd);
        }
      }),
      { numRuns: 1000 },
    );
  }
  // Nothing the addon created or received may leak.
  expect(openFdCount()).toBe(before);
}

describe('garbage arguments never crash the process', () => {
  it('raw addon exports', () => {
    fuzz(loadRaw());
  });

  it('TypeScript wrapper exports', () => {
    fuzz(wrapped());
  });

  it('propagates an exception thrown while reading the fds array', () => {
    const raw = loadRaw();
    const fds: number[] = [];
    Object.defineProperty(fds, 0, {
      get() {
        throw new Error('getter says no');
      },
      enumerable: true,
    });
    expect(() => raw.sendMessage(pair.fd, Buffer.from('x'), fds)).toThrow('getter says no');
  });

  it('accepts a poll handle only from this addon', () => {
    const raw = loadRaw();
    for (const fake of [{}, { fd: pair.fd }, Object.create(stoppedHandle) as object, new Date(), [], () => undefined]) {
      expect(() => raw.pollStop(fake)).toThrow(TypeError);
      expect(() => raw.pollUpdate(fake, 1)).toThrow(TypeError);
    }
  });
});
