/**
 * The native data plane (native/src/pump*.c): one thread per process that
 * moves forwarded connections' bytes (Linux: epoll, bulk by splice with zero
 * copy, small reads by recv/send;
 * macOS: kqueue + read/write), while JavaScript accepts, applies policy,
 * resolves and reports. main/core/ports/native-forwarder.ts is its one user.
 */
import { checkFd, checkInteger, typeError } from './checks';
import { loadBinding } from './loader';

/** Opaque handle of one mapping's connections on the pump thread. */
export interface PumpMapping {
  readonly __pumpMapping?: never;
}

/**
 * What happened since the last report (batched: one call per burst, never
 * per packet): connections closed (failed ones included), target connections
 * that failed, the last failure's errno (positive; 0 if none), pairs ended
 * for lack of descriptors (a pipe could not be made), whether this is
 * the mapping's last report (after pumpClose), and whether a connection
 * reached the target after the last failure (none failed since): the
 * failure is no longer true.
 */
export type PumpReport = (closed: number, failed: number, lastErrno: number, exhausted: number, finished: boolean, reached: boolean) => void;

export interface PumpStats {
  /** Bytes from clients to the target. */
  bytesIn: number;
  /** Bytes from the target to clients. */
  bytesOut: number;
  /** Bytes read from one side and not yet written to the other. */
  queued: number;
}

/** Longest connect timeout a mapping may ask for (a day). */
export const MAX_CONNECT_TIMEOUT_MS = 24 * 60 * 60 * 1000;
/** Most connections one acceptConnections call takes. */
export const MAX_ACCEPT = 1024;

function checkMapping(value: unknown): asserts value is PumpMapping {
  if (typeof value !== 'object' || value === null) throw typeError('mapping must be a PumpMapping returned by pumpOpen');
}

/**
 * A new mapping on the pump thread (started on first use). Throws a system
 * error when the thread or its poller cannot start: the caller falls back to
 * the JS forwarder then. `onReport` runs on the JS thread.
 */
export function pumpOpen(connectTimeoutMs: number, onReport: PumpReport): PumpMapping {
  checkInteger(connectTimeoutMs, 'connectTimeoutMs', 1, MAX_CONNECT_TIMEOUT_MS);
  if (typeof onReport !== 'function') throw typeError('onReport must be a function');
  return loadBinding().pumpOpen(connectTimeoutMs, onReport);
}

/**
 * Hands an accepted client over: connects a new socket to `address`:`port`
 * (a literal IP; resolve names first) and pumps between the two. Once the
 * arguments are valid the client fd belongs to the pump: on a failure it is
 * closed with a reset and the error thrown (connect: what the kernel knows
 * at once, such as no route); later failures come in reports.
 * `otherAddress`: the name's other address (localhost: ::1 and 127.0.0.1),
 * tried when the first fails to connect, as net.connect's autoSelectFamily.
 */
export function pumpAdd(mapping: PumpMapping, clientFd: number, address: string, port: number, otherAddress?: string): void {
  checkMapping(mapping);
  checkFd(clientFd, 'clientFd');
  if (typeof address !== 'string') throw typeError('address must be a string');
  checkInteger(port, 'port', 1, 65535);
  if (otherAddress !== undefined && typeof otherAddress !== 'string') throw typeError('otherAddress must be a string');
  loadBinding().pumpAdd(mapping, clientFd, address, port, otherAddress);
}

/** Closes the mapping's connections; its last report (finished) follows. Idempotent. */
export function pumpClose(mapping: PumpMapping): void {
  checkMapping(mapping);
  loadBinding().pumpClose(mapping);
}

/** The mapping's byte counters, read now. */
export function pumpStats(mapping: PumpMapping): PumpStats {
  checkMapping(mapping);
  return loadBinding().pumpStats(mapping);
}

/**
 * Accepts up to `max` (1..1024) waiting connections from a listening socket
 * (switched to non-blocking mode first, so a call never waits): non-blocking,
 * close-on-exec fds owned by the caller.
 * Empty when none waits. A failure (EMFILE...) is thrown only when no
 * connection was taken; otherwise the next call meets it.
 */
export function acceptConnections(fd: number, max: number): number[] {
  checkFd(fd);
  checkInteger(max, 'max', 1, MAX_ACCEPT);
  return loadBinding().acceptConnections(fd, max);
}

/** Closes a socket with a reset (SO_LINGER 0): for a connection refused right after accept. Only sockets (ENOTSOCK). */
export function resetSocket(fd: number): void {
  checkFd(fd);
  loadBinding().resetSocket(fd);
}

/** Where a TCP socket is bound, and whether it listens. */
export interface SocketAddress {
  address: string;
  family: 'IPv4' | 'IPv6';
  port: number;
  listening: boolean;
}

/** getsockname + SO_ACCEPTCONN of a TCP socket over IPv4/IPv6 (anything else: EAFNOSUPPORT, ENOTSOCK...). */
export function socketAddress(fd: number): SocketAddress {
  checkFd(fd);
  return loadBinding().socketAddress(fd);
}
