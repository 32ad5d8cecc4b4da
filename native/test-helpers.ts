/**
 * Helpers shared by the native addon's tests (not a test file itself).
 * Everything here uses real sockets, real descriptors and real processes.
 */
import { spawn } from 'node:child_process';
import { chmodSync, closeSync, copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'vitest';
import { addonSearchPaths, connectUnix } from './index';

/** The uid/gid the tests use for "another user" (nobody/nogroup). */
export const OTHER_ID = 65534;

/** Built addon path in the source tree. */
export function builtAddonPath(): string {
  const found = addonSearchPaths().find((p) => p.endsWith(path.join('build', 'Release', 'berth_native.node')));
  if (found === undefined) throw new Error('no build/Release candidate path');
  return found;
}

const tempDirs: string[] = [];

/** A fresh temporary directory, removed by {@link removeTempDirs}. */
export function makeTempDir(mode = 0o700): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-native-'));
  chmodSync(dir, mode);
  tempDirs.push(dir);
  return dir;
}

export function removeTempDirs(): void {
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** A world-readable copy of the addon, so a child running as another user can load it. */
export function addonCopyForOtherUsers(): string {
  const dir = makeTempDir(0o755);
  const file = path.join(dir, 'berth_native.node');
  copyFileSync(builtAddonPath(), file);
  chmodSync(file, 0o755);
  return file;
}

interface HandleWithFd {
  _handle: { fd: number } | null;
}

/** The OS descriptor under a net.Socket / net.Server (libuv owns it). */
export function handleFd(object: net.Socket | net.Server): number {
  const handle = (object as unknown as HandleWithFd)._handle;
  if (handle === null || typeof handle.fd !== 'number' || handle.fd < 0) {
    throw new Error('object has no open OS handle');
  }
  return handle.fd;
}

/** Octal `flags:` field of /proc/self/fdinfo/<fd>. */
export function fdFlags(fd: number): number {
  const match = /^flags:\s+([0-7]+)$/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'));
  if (match?.[1] === undefined) throw new Error(`no flags for fd ${fd}`);
  return parseInt(match[1], 8);
}

export const O_NONBLOCK = 0o4000;
export const O_CLOEXEC = 0o2000000;

/** Number of descriptors open in this process right now. */
export function openFdCount(): number {
  return readdirSync('/proc/self/fd').length;
}

/** Assert that `fn` throws a system error with this code. */
export function expectSystemError(fn: () => unknown, code: string): void {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  expect(caught, `expected ${code}`).toBeInstanceOf(Error);
  const error = caught as { code?: unknown; errno?: unknown; syscall?: unknown };
  expect(error.code).toBe(code);
  expect(typeof error.errno).toBe('number');
  expect(typeof error.syscall).toBe('string');
}

/** A UNIX socket server in a temporary directory. */
export interface UnixServer {
  server: net.Server;
  socketPath: string;
  /** Resolves with the next accepted connection. */
  nextConnection(): Promise<net.Socket>;
  close(): Promise<void>;
}

export async function listenUnix(options: { dirMode?: number; everyone?: boolean } = {}): Promise<UnixServer> {
  const dir = makeTempDir(options.dirMode ?? 0o700);
  const socketPath = path.join(dir, 's.sock');
  const pending: net.Socket[] = [];
  const waiters: ((socket: net.Socket) => void)[] = [];
  const accepted: net.Socket[] = [];
  const server = net.createServer((socket) => {
    socket.on('error', () => undefined); // peers in tests close abruptly
    accepted.push(socket);
    const waiter = waiters.shift();
    if (waiter) waiter(socket);
    else pending.push(socket);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ path: socketPath, readableAll: options.everyone, writableAll: options.everyone }, resolve);
  });
  return {
    server,
    socketPath,
    nextConnection: () =>
      new Promise((resolve) => {
        const socket = pending.shift();
        if (socket) resolve(socket);
        else waiters.push(resolve);
      }),
    close: () =>
      new Promise((resolve) => {
        for (const socket of accepted) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/**
 * A connected pair: `fd` is a native connectUnix() end (ours to read and
 * close); `peer` is the accepted net.Socket (libuv reads it, so it is only
 * used to send, via its `peerFd` or net's own write()).
 */
export interface NativePair {
  fd: number;
  peer: net.Socket;
  peerFd: number;
  close(): Promise<void>;
}

export async function nativePair(): Promise<NativePair> {
  const unix = await listenUnix();
  const accepted = unix.nextConnection();
  const fd = connectUnix(unix.socketPath);
  const peer = await accepted;
  let closed = false;
  return {
    fd,
    peer,
    peerFd: handleFd(peer),
    close: async () => {
      if (closed) return;
      closed = true;
      closeSync(fd);
      await unix.close();
    },
  };
}

export interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** A running child process with line-wise stdout access. */
export interface Child {
  pid: number;
  /** Resolves when stdout has printed a line equal to `line`. */
  waitForLine(line: string): Promise<void>;
  done: Promise<ChildResult>;
  kill(): void;
}

/** Run `node -e script args...`, optionally as uid/gid 65534 via setpriv. */
export function startNode(script: string, args: string[], options: { asOtherUser?: boolean; nodeFlags?: string[] } = {}): Child {
  const nodeArgs = [...(options.nodeFlags ?? []), '-e', script, '--', ...args];
  const child = options.asOtherUser
    ? spawn(
        'setpriv',
        [`--reuid=${OTHER_ID}`, `--regid=${OTHER_ID}`, '--clear-groups', process.execPath, ...nodeArgs],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      )
    : spawn(process.execPath, nodeArgs, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const lineWaiters: { line: string; resolve: () => void }[] = [];
  const checkLines = (): void => {
    const lines = stdout.split('\n');
    for (const waiter of lineWaiters.splice(0)) {
      if (lines.includes(waiter.line)) waiter.resolve();
      else lineWaiters.push(waiter);
    }
  };
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    checkLines();
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const done = new Promise<ChildResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      for (const waiter of lineWaiters.splice(0)) waiter.resolve();
      resolve({ code, signal, stdout, stderr });
    });
  });
  if (child.pid === undefined) throw new Error('child did not start');
  return {
    pid: child.pid,
    waitForLine: (line) =>
      new Promise((resolve) => {
        lineWaiters.push({ line, resolve });
        checkLines();
      }),
    done,
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}

/** Loads the addon in a child script: defines `addon` from argv[1]. */
export const CHILD_PRELUDE = `
const addonModule = { exports: {} };
process.dlopen(addonModule, process.argv[1]);
const addon = addonModule.exports;
const report = (value) => process.stdout.write(JSON.stringify(value) + '\\n');
const errorInfo = (e) => ({ name: e.name, code: e.code, errno: e.errno, syscall: e.syscall, message: e.message });
`;

/** A TCP port that was free a moment ago on `host`. */
export async function freePort(host: string): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port: 0, exclusive: true }, resolve);
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** Hex local ports of entries in /proc/net/<table> (tcp, udp, tcp6, udp6), with their state. */
export function procNetEntries(table: 'tcp' | 'tcp6' | 'udp' | 'udp6'): { local: string; port: number; state: number }[] {
  return readFileSync(`/proc/net/${table}`, 'utf8')
    .split('\n')
    .slice(1)
    .map((line) => line.trim().split(/\s+/))
    .filter((fields) => fields.length > 3 && fields[1] !== undefined)
    .map((fields) => {
      const [local = '', port = '0'] = (fields[1] ?? '').split(':');
      return { local, port: parseInt(port, 16), state: parseInt(fields[3] ?? '0', 16) };
    });
}
