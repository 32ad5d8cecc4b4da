/**
 * Typed loader and wrapper for Berth's Node-API addon (berth_native.node).
 *
 * The addon covers the few syscalls Node lacks: passing file descriptors over
 * UNIX sockets (SCM_RIGHTS), reading a UNIX socket peer's credentials,
 * creating bound sockets for the root helper, and polling raw descriptors.
 *
 * Arguments are validated here and again in C (the addon must never trust
 * its caller). System errors are `Error`s shaped like Node's own:
 * `{ code: 'EACCES', errno: -13, syscall: 'bind' }` (errno is negative, as in
 * Node). Bad arguments throw `TypeError` / `RangeError` (codes
 * `ERR_INVALID_ARG_TYPE` / `ERR_OUT_OF_RANGE`).
 */
import fs from 'node:fs';
import path from 'node:path';

export interface PeerCredentials {
  uid: number;
  gid: number;
  /** -1 where the OS cannot tell. Informational only: pids are recycled. */
  pid: number;
}

/** `data.length === 0 && fds.length === 0` means EOF (the peer closed). */
export interface ReceivedMessage {
  data: Buffer;
  fds: number[];
}

export type SocketProtocol = 'tcp' | 'udp';

export const POLL_READABLE = 1;
export const POLL_WRITABLE = 2;

/** Opaque handle returned by {@link pollStart}. */
export interface PollHandle {
  readonly fd: number;
}

/** Shape of every system error thrown by this module. */
export interface NativeSystemError extends Error {
  /** errno name, e.g. 'EACCES'; 'ECTRUNC' for too many received fds. */
  code: string;
  /** Negative errno, Node-style (ECTRUNC reports UV_EMSGSIZE). */
  errno: number;
  syscall: string;
}

/** Most file descriptors one message may carry (each direction). */
export const MAX_FDS = 16;
/** Largest `maxBytes` accepted by {@link receiveMessage}. */
export const MAX_RECEIVE_BYTES = 1024 * 1024;

type PollCallback = (error: Error | null, events: number) => void;

interface NativeBinding {
  peerCredentials(fd: number): PeerCredentials;
  connectUnix(path: string): number;
  sendMessage(fd: number, data: Buffer, fds: readonly number[]): number;
  receiveMessage(fd: number, maxBytes: number, maxFds: number): ReceivedMessage | null;
  bindSocket(address: string, port: number, protocol: SocketProtocol, backlog: number): number;
  pollStart(fd: number, events: number, callback: PollCallback): PollHandle;
  pollUpdate(handle: PollHandle, events: number): void;
  pollStop(handle: PollHandle): void;
}

const ADDON_FILE = 'berth_native.node';
const BINDING_FUNCTIONS: readonly (keyof NativeBinding)[] = [
  'peerCredentials',
  'connectUnix',
  'sendMessage',
  'receiveMessage',
  'bindSocket',
  'pollStart',
  'pollUpdate',
  'pollStop',
];

let binding: NativeBinding | undefined;

/**
 * Directory of this module. The bundles are CommonJS and Vitest defines
 * `__dirname` too; import.meta is avoided because esbuild empties it in
 * CommonJS output.
 */
function moduleDirectory(): string | undefined {
  return typeof __dirname === 'string' ? __dirname : undefined;
}

/**
 * True only inside a Node single executable application. `node:sea` exists
 * from Node 20.12; it is reached through process.getBuiltinModule (Node
 * 20.16+, and Electron), which works from CommonJS and ESM alike. Anything
 * missing means "not a SEA".
 */
function isSingleExecutable(): boolean {
  try {
    const getBuiltin = (process as { getBuiltinModule?: (id: string) => unknown }).getBuiltinModule;
    if (typeof getBuiltin !== 'function') return false;
    const sea = getBuiltin.call(process, 'node:sea');
    if (typeof sea !== 'object' || sea === null || !('isSea' in sea)) return false;
    const isSea: unknown = sea.isSea;
    return typeof isSea === 'function' && isSea.call(sea) === true;
  } catch {
    return false;
  }
}

/**
 * Candidate paths, in order. Deliberately fixed: never influenced by the
 * environment, so the root helper cannot be made to load code from a path a
 * user chose.
 */
export function addonSearchPaths(): string[] {
  const dir = moduleDirectory();
  const candidates: string[] = [];
  if (dir !== undefined) {
    candidates.push(path.join(dir, ADDON_FILE), path.join(dir, 'build', 'Release', ADDON_FILE));
  }
  if (isSingleExecutable()) {
    candidates.push(path.join(path.dirname(process.execPath), ADDON_FILE));
  }
  return candidates;
}

/** True when nothing exists at `file` (so the next candidate is tried). */
function isMissing(file: string): boolean {
  try {
    fs.statSync(file);
    return false;
  } catch (error) {
    const code: unknown = (error as { code?: unknown }).code;
    return code === 'ENOENT' || code === 'ENOTDIR';
  }
}

function loadBinding(): NativeBinding {
  if (binding !== undefined) return binding;
  const tried = addonSearchPaths();
  for (const file of tried) {
    if (isMissing(file)) continue;
    const mod: { exports: unknown } = { exports: {} };
    // A present but broken addon throws here: it must not be skipped silently.
    process.dlopen(mod, file);
    const exported = mod.exports;
    if (typeof exported !== 'object' || exported === null) {
      throw new Error(`Berth native addon at ${file} has no exports`);
    }
    for (const name of BINDING_FUNCTIONS) {
      if (typeof (exported as Record<string, unknown>)[name] !== 'function') {
        throw new Error(`Berth native addon at ${file} lacks ${name}(); rebuild it with \`npm ci\``);
      }
    }
    binding = exported as NativeBinding;
    return binding;
  }
  throw new Error(`Berth native addon not found; run \`npm ci\` to build it (looked in: ${tried.join(', ')})`);
}

// ---- argument validation (mirrors the C checks) ----------------------------

function typeError(message: string): TypeError {
  return Object.assign(new TypeError(message), { code: 'ERR_INVALID_ARG_TYPE' });
}

function rangeError(message: string): RangeError {
  return Object.assign(new RangeError(message), { code: 'ERR_OUT_OF_RANGE' });
}

function checkInteger(value: unknown, name: string, min: number, max: number): asserts value is number {
  if (typeof value !== 'number') throw typeError(`${name} must be a number`);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw rangeError(`${name} must be an integer between ${min} and ${max}`);
  }
}

const FD_MAX = 2 ** 31 - 1;

function checkFd(value: unknown, name = 'fd'): asserts value is number {
  checkInteger(value, name, 0, FD_MAX);
}

function checkEvents(value: unknown): asserts value is number {
  checkInteger(value, 'events', POLL_READABLE, POLL_READABLE | POLL_WRITABLE);
}

function checkHandle(value: unknown): asserts value is PollHandle {
  if (typeof value !== 'object' || value === null) {
    throw typeError('handle must be a PollHandle returned by pollStart');
  }
}

// ---- API --------------------------------------------------------------------

/**
 * Credentials of the process on the other end of a connected UNIX socket
 * (Linux SO_PEERCRED; macOS getpeereid + LOCAL_PEERPID). Anything other than
 * a connected AF_UNIX socket throws (ENOTSOCK, ENOTCONN, EAFNOSUPPORT).
 */
export function peerCredentials(fd: number): PeerCredentials {
  checkFd(fd);
  return loadBinding().peerCredentials(fd);
}

/**
 * Connect a new non-blocking, close-on-exec AF_UNIX stream socket to `path`
 * and return its fd (the caller closes it). Throws ENAMETOOLONG when the path
 * does not fit sun_path, EAGAIN when the listener's backlog is full, and
 * ENOENT / ECONNREFUSED / EACCES as the OS reports.
 */
export function connectUnix(socketPath: string): number {
  if (typeof socketPath !== 'string') throw typeError('path must be a string');
  if (socketPath.length === 0) throw typeError('path must be a non-empty string');
  if (socketPath.includes('\0')) throw typeError('path must not contain NUL bytes');
  return loadBinding().connectUnix(socketPath);
}

/**
 * One non-blocking sendmsg(): `data` plus up to 16 fds as one SCM_RIGHTS
 * message. Returns the bytes written, which may be fewer than `data.length`;
 * the fds go with the first byte, so resend only the rest, without fds.
 * Throws an error with code 'EAGAIN' when the socket buffer is full.
 * `data` may be empty only when fds are sent over a datagram/seqpacket
 * socket (stream sockets would silently drop them: EINVAL).
 */
export function sendMessage(fd: number, data: Buffer, fds: readonly number[]): number {
  checkFd(fd);
  if (!Buffer.isBuffer(data)) throw typeError('data must be a Buffer');
  if (!Array.isArray(fds)) throw typeError('fds must be an array of file descriptors');
  if (fds.length > MAX_FDS) throw rangeError(`fds must hold at most ${MAX_FDS} file descriptors`);
  // An index loop, not forEach: holes in a sparse array must be checked too.
  for (let index = 0; index < fds.length; index++) checkFd(fds[index], `fds[${index}]`);
  if (data.length === 0 && fds.length === 0) {
    throw rangeError('data must not be empty unless fds are sent');
  }
  return loadBinding().sendMessage(fd, data, fds);
}

/**
 * One non-blocking recvmsg() of at most `maxBytes` bytes (1..1048576) and
 * `maxFds` descriptors (0..16). Returns null when nothing is pending, and
 * empty data with no fds at EOF. Received fds are close-on-exec and owned by
 * the caller. If the peer sent more fds than `maxFds`, every received fd is
 * closed and an error with code 'ECTRUNC' is thrown: drop the connection.
 */
export function receiveMessage(fd: number, maxBytes: number, maxFds: number): ReceivedMessage | null {
  checkFd(fd);
  checkInteger(maxBytes, 'maxBytes', 1, MAX_RECEIVE_BYTES);
  checkInteger(maxFds, 'maxFds', 0, MAX_FDS);
  return loadBinding().receiveMessage(fd, maxBytes, maxFds);
}

/**
 * Create a close-on-exec socket bound to a literal IPv4/IPv6 `address`
 * (no hostnames, no zone ids: EINVAL) and `port` (1..65535). TCP sockets get
 * SO_REUSEADDR and listen(backlog); IPv6 sockets are IPV6_V6ONLY. `backlog`
 * must be 1..4096 for both protocols (UDP ignores it). The fd is left in
 * blocking mode; the caller owns it.
 */
export function bindSocket(address: string, port: number, protocol: SocketProtocol, backlog: number): number {
  if (typeof address !== 'string') throw typeError('address must be a string');
  checkInteger(port, 'port', 1, 65535);
  if (protocol !== 'tcp' && protocol !== 'udp') throw typeError("protocol must be 'tcp' or 'udp'");
  checkInteger(backlog, 'backlog', 1, 4096);
  return loadBinding().bindSocket(address, port, protocol, backlog);
}

/**
 * Watch `fd` on Node's event loop for POLL_READABLE and/or POLL_WRITABLE
 * (events 1..3); `callback(null, events)` runs on the JS thread for each
 * readiness, or `callback(error, 0)` when the OS reports an error (polling
 * then stops). Also switches `fd` to non-blocking mode. A descriptor Node
 * itself already watches (e.g. a net.Socket's) fails with EEXIST.
 *
 * Call {@link pollStop} BEFORE closing `fd`: polling a closed (or reused)
 * descriptor is undefined behaviour in libuv. If the handle is garbage
 * collected without pollStop, polling stops then.
 */
export function pollStart(fd: number, events: number, callback: (error: Error | null, events: number) => void): PollHandle {
  checkFd(fd);
  checkEvents(events);
  if (typeof callback !== 'function') throw typeError('callback must be a function');
  return loadBinding().pollStart(fd, events, callback);
}

/** Replace the watched events (1..3). Throws EBADF after pollStop or if the fd was closed. */
export function pollUpdate(handle: PollHandle, events: number): void {
  checkHandle(handle);
  checkEvents(events);
  loadBinding().pollUpdate(handle, events);
}

/** Stop watching and release the callback. Idempotent. Call it before closing the fd. */
export function pollStop(handle: PollHandle): void {
  checkHandle(handle);
  loadBinding().pollStop(handle);
}
