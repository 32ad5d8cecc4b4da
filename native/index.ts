/**
 * Typed loader and wrapper for Berth's Node-API addon (berth_native.node).
 *
 * The addon covers the few syscalls Node lacks: passing file descriptors over
 * UNIX sockets (SCM_RIGHTS), reading a UNIX socket peer's credentials,
 * creating bound sockets for the root helper, polling raw descriptors,
 * hearing when the machine's addresses change, the *at() file operations
 * the root helper needs to edit root-owned directories without following
 * symlinks (see ./at.ts), the forwarders' native data plane (see ./pump.ts),
 * and, on macOS, taking the listening socket launchd
 * holds for the helper (see ./launchd.ts).
 *
 * Arguments are validated here and again in C (the addon must never trust
 * its caller). System errors are `Error`s shaped like Node's own:
 * `{ code: 'EACCES', errno: -13, syscall: 'bind' }` (errno is negative, as in
 * Node). Bad arguments throw `TypeError` / `RangeError` (codes
 * `ERR_INVALID_ARG_TYPE` / `ERR_OUT_OF_RANGE`, or `ERR_INVALID_ARG_VALUE` for
 * a string of the right type with an unacceptable value).
 */
import { checkFd, checkInteger, rangeError, typeError } from './checks';
import { loadBinding } from './loader';

export { ADDON_FILE, addonSearchPaths, isSingleExecutable } from './loader';
export { launchActivateSocket } from './launchd';
export { datagramAddress, MAX_DATAGRAM_BYTES, receiveDatagram, sendDatagram, type DatagramAddress, type ReceivedDatagram } from './datagram';
export {
  acceptConnections,
  MAX_ACCEPT,
  MAX_CONNECT_TIMEOUT_MS,
  pumpAdd,
  pumpClose,
  pumpOpen,
  pumpStats,
  resetSocket,
  socketAddress,
  type PumpMapping,
  type PumpReport,
  type PumpStats,
  type SocketAddress,
} from './pump';
export {
  fsyncDirectory,
  openDirectoryNoFollow,
  openFileAt,
  readlinkAt,
  renameAt,
  statAt,
  symlinkAt,
  unlinkAt,
  type FileStat,
  type FileType,
  type OpenedDirectory,
  type OpenFileMode,
  type PathComponent,
} from './at';

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
  /** The *at() exports: the name (or, for openDirectoryNoFollow, the path up to the failing component). */
  path?: string;
  /** renameAt: the destination name. */
  dest?: string;
}

/** Most file descriptors one message may carry (each direction). */
export const MAX_FDS = 16;
/** Largest `maxBytes` accepted by {@link receiveMessage}. */
export const MAX_RECEIVE_BYTES = 1024 * 1024;

// ---- argument validation (mirrors the C checks; the shared ones are in ./checks)

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
 * Whether `address`:`port` is free for `protocol`: binds a socket without
 * SO_REUSEADDR and without listening, then closes it. True when free;
 * throws with the errno otherwise (EADDRINUSE: someone holds it).
 */
export function probeBind(address: string, port: number, protocol: SocketProtocol): boolean {
  if (typeof address !== 'string') throw typeError('address must be a string');
  checkInteger(port, 'port', 1, 65535);
  if (protocol !== 'tcp' && protocol !== 'udp') throw typeError("protocol must be 'tcp' or 'udp'");
  return loadBinding().probeBind(address, port, protocol);
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

/** Most freed memory a process may be asked to keep (native/src/heap.c holds the same bound). */
export const MAX_HEAP_TRIM_THRESHOLD = 1024 * 1024 * 1024;

/**
 * Keep up to `bytes` of freed memory at the top of glibc's heap instead of
 * giving it back to the kernel at once (mallopt M_TRIM_THRESHOLD; see
 * native/src/heap.c for why the forwarder wants it). Process-wide. True when
 * set; false where the C library is not glibc.
 */
export function setHeapTrimThreshold(bytes: number): boolean {
  checkInteger(bytes, 'bytes', 0, MAX_HEAP_TRIM_THRESHOLD);
  return loadBinding().setHeapTrimThreshold(bytes);
}

/**
 * A descriptor that turns readable when this machine's IP addresses change
 * (Linux: a NETLINK_ROUTE socket in the IPv4/IPv6 address groups; macOS: a
 * PF_ROUTE socket). Close-on-exec and non-blocking; the caller owns it: watch
 * it with {@link pollStart}, read it with {@link drainAddressWatch}, and
 * pollStop before closing it.
 */
export function openAddressWatch(): number {
  return loadBinding().openAddressWatch();
}

/**
 * Reads and discards what an {@link openAddressWatch} descriptor has pending
 * (at most 64 reads of 8 KiB); returns how many address changes it held (0:
 * none, e.g. only other routing news). Lost messages (the socket's buffer
 * overflowed) count as a change. Any other descriptor is refused with EINVAL
 * and left unread.
 */
export function drainAddressWatch(fd: number): number {
  checkFd(fd);
  return loadBinding().drainAddressWatch(fd);
}

/** The process's RLIMIT_NOFILE; Infinity where the OS sets none. */
export interface FileLimit {
  soft: number;
  hard: number;
}

/** The process's file descriptor limits (getrlimit RLIMIT_NOFILE), which Node does not expose. */
export function fileLimit(): FileLimit {
  return loadBinding().fileLimit();
}

/**
 * Raises the soft file descriptor limit to the hard one (at most 2^20, and
 * OPEN_MAX on macOS), never lowering it, and returns the limits now in force
 * (see native/src/limits.c for why the backend does this at start).
 */
export function raiseFileLimit(): FileLimit {
  return loadBinding().raiseFileLimit();
}
