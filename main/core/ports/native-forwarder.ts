import dns from 'node:dns';
import { closeSync, fstatSync } from 'node:fs';
import net from 'node:net';
import { getSystemErrorName } from 'node:util';
import {
  acceptConnections,
  MAX_CONNECT_TIMEOUT_MS,
  pollStart,
  pollStop,
  POLL_READABLE,
  pumpAdd,
  pumpClose,
  pumpOpen,
  pumpStats,
  resetSocket,
  socketAddress,
  type PollHandle,
  type PumpMapping,
  type SocketAddress,
} from '../../../native';
import { processFdBudget, type FdBudget } from '../limits/fd-budget';
import {
  DEFAULT_CONNECT_TIMEOUT_MS,
  describeTargetError,
  descriptorsRefusal,
  outOfDescriptors,
  type Forwarder,
  type ForwarderOptions,
  type ForwarderStats,
  type ForwardTarget,
} from './forwarding';

/** The pump thread (or the addon) cannot run here: the fd is untouched, the JS plane can serve it. */
export class NativePlaneUnavailable extends Error {
  constructor(readonly reason: unknown) {
    super(`the native data plane cannot start: ${reason instanceof Error ? reason.message : String(reason)}`);
    this.name = 'NativePlaneUnavailable';
  }
}

/** The JS plane's meaning of connectTimeoutMs (0 or less: never give up) within what the pump takes. */
function pumpTimeout(ms: number | undefined): number {
  if (ms === undefined) return DEFAULT_CONNECT_TIMEOUT_MS;
  if (ms <= 0 || ms > MAX_CONNECT_TIMEOUT_MS) return MAX_CONNECT_TIMEOUT_MS;
  return Math.max(1, Math.round(ms));
}

/** Connections taken per wake-up of the listening socket, so one busy port cannot starve the event loop. */
const ACCEPT_BATCH = 64;
/** While accept(2) fails for lack of descriptors: try again this often (sooner when one of ours closes). */
const ACCEPT_RETRY_MS = 100;

/**
 * The native data plane: JavaScript accepts each connection, applies the
 * descriptor budget, resolves the target's name and hands the client's
 * socket over to the addon's pump thread (native/pump.ts), which connects to
 * the target and moves the bytes both ways in the kernel (Linux: splice, no
 * copy through user space) with back-pressure and half-close. The thread
 * reports closed and failed connections in batches; byte counts are read
 * from its counters only when someone asks.
 *
 * Accept and the target's address stay here, not on the pump thread, so that
 * policy (the budget), name resolution and every message a user sees stay in
 * one place and identical to the JS plane's; the cost is a few synchronous
 * addon calls per connection, no JS object per socket.
 */
export class NativeForwarder implements Forwarder {
  readonly plane = 'native';
  private active = 0;
  private total = 0;
  private failed = 0;
  private lookups = 0;
  private lastError: string | null = null;
  private poll: PollHandle | undefined;
  private retry: NodeJS.Timeout | undefined;
  private closing: Promise<void> | undefined;
  private finished = false;
  private onClosed: (() => void) | undefined;
  private readonly fds: FdBudget;
  private readonly mapping: PumpMapping;

  private constructor(
    private readonly fd: number,
    private readonly bound: net.AddressInfo,
    readonly target: ForwardTarget,
    private readonly options: ForwarderOptions,
  ) {
    this.fds = options.fds ?? processFdBudget();
    try {
      this.mapping = pumpOpen(pumpTimeout(options.connectTimeoutMs), (closed, failed, lastErrno, exhausted, finished, reached) =>
        this.onReport(closed, failed, lastErrno, exhausted, finished, reached),
      );
    } catch (error) {
      throw new NativePlaneUnavailable(error);
    }
    try {
      this.startAccepting();
    } catch (error) {
      pumpClose(this.mapping);
      throw new NativePlaneUnavailable(error);
    }
  }

  /**
   * Serves the listening socket `fd`, taking ownership of it once it is
   * known to be a listening TCP socket. Throws NativePlaneUnavailable,
   * leaving `fd` open, when the addon or its pump thread cannot run (the
   * caller falls back to the JS plane then).
   */
  static listen(fd: number, target: ForwardTarget, options: ForwarderOptions = {}): NativeForwarder {
    // Checked first, as the JS plane does: an fd that can never be served is closed.
    if (!fstatSync(fd).isSocket()) {
      closeSync(fd);
      throw new Error(`fd ${fd} is not a socket`);
    }
    let bound: SocketAddress;
    try {
      bound = socketAddress(fd);
    } catch (error) {
      // No addon at all, or a socket that is not TCP over IP (which the JS plane reports in its own words).
      throw new NativePlaneUnavailable(error);
    }
    const { address, family, port, listening } = bound;
    // Bound but not listening: the JS plane's net.Server would call listen() itself, so it serves this one.
    if (!listening) throw new NativePlaneUnavailable(new Error(`fd ${fd} is not a listening socket`));
    return new NativeForwarder(fd, { address, family, port }, target, options);
  }

  address(): net.AddressInfo {
    return { ...this.bound };
  }

  stats(): ForwarderStats {
    const { bytesIn, bytesOut } = pumpStats(this.mapping);
    return { active: this.active, total: this.total, failed: this.failed, bytesIn, bytesOut };
  }

  queuedBytes(): number {
    return pumpStats(this.mapping).queued;
  }

  get lastTargetError(): string | null {
    return this.lastError;
  }

  get acceptError(): string | null {
    return this.fds.forwardingRefused ? descriptorsRefusal(this.bound.port) : null;
  }

  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      this.onClosed = resolve;
      this.stopAccepting();
      // After pollStop (never close a descriptor libuv still watches): the port is free now.
      closeSync(this.fd);
      // The pump closes every connection handed over, then sends its last report (onReport: finished).
      pumpClose(this.mapping);
    });
    return this.closing;
  }

  private startAccepting(): void {
    this.retry = undefined;
    if (this.closing || this.poll) return;
    // Level-triggered on Node's own loop: a batch left waiting wakes it again.
    this.poll = pollStart(this.fd, POLL_READABLE, () => this.accept());
  }

  private stopAccepting(): void {
    if (this.poll) pollStop(this.poll);
    this.poll = undefined;
    if (this.retry) clearTimeout(this.retry);
    this.retry = undefined;
  }

  private accept(): void {
    let accepted: number[];
    try {
      accepted = acceptConnections(this.fd, ACCEPT_BATCH);
    } catch (error) {
      // Out of descriptors: the listener would stay readable and spin, so it
      // rests until one of ours closes or a short while has passed; waiting
      // clients stay in the backlog meanwhile. Other errors (the socket went
      // bad) rest the same way: a forwarder keeps listening, as the JS one does.
      if (outOfDescriptors(error)) this.fds.exhausted();
      this.stopAccepting();
      this.retry = setTimeout(() => this.startAccepting(), ACCEPT_RETRY_MS);
      this.options.onActivity?.();
      return;
    }
    for (const fd of accepted) this.onConnection(fd);
  }

  private onConnection(fd: number): void {
    // Two descriptors (client and target) while more than the forwarders' floor
    // stays free; else refused at once, so the backend keeps a few for itself
    // and the CLI (fd-budget.ts). A reset tells the client plainly.
    if (this.closing || !this.fds.admit('forward', 2)) {
      resetSocket(fd);
      this.options.onActivity?.();
      return;
    }
    this.total++;
    this.active++;
    const { host, port } = this.target;
    if (net.isIP(host) !== 0) {
      this.handOver(fd, host, port);
    } else {
      // Resolved for each connection, as net.connect does, so a name that moves is followed;
      // every address, as net.connect's autoSelectFamily tries them (localhost: ::1 and 127.0.0.1).
      this.lookups++;
      dns.lookup(host, { all: true }, (error, addresses) => {
        this.lookups--;
        if (error) {
          resetSocket(fd);
          this.connectionFailed(error);
        } else if (this.closing) {
          resetSocket(fd);
          this.connectionClosed();
        } else {
          this.handOver(fd, addresses.map((a) => a.address), port);
        }
        this.maybeFinish();
      });
    }
    this.options.onActivity?.();
  }

  /**
   * Hands the client over. A name's first two addresses: the pump tries the
   * other when the first fails to connect (localhost is ::1 and 127.0.0.1,
   * and a target listens on one of them), as net.connect's autoSelectFamily.
   */
  private handOver(fd: number, addresses: string | readonly string[], port: number): void {
    const [first, other] = typeof addresses === 'string' ? [addresses] : addresses;
    try {
      if (first === undefined) throw Object.assign(new Error('no address'), { code: 'ENOTFOUND' });
      pumpAdd(this.mapping, fd, first, port, other);
    } catch (error) {
      // The client's fd is closed (reset) by the addon; a refusal the kernel knew at once lands here.
      if (first === undefined) resetSocket(fd);
      this.connectionFailed(error);
    }
  }

  /** The target could not be reached (or no descriptor was left for it): this connection is lost, the listener is not. */
  private connectionFailed(error: unknown): void {
    this.failed++;
    if (outOfDescriptors(error)) this.fds.exhausted();
    else this.lastError = describeTargetError(error, this.target);
    this.connectionClosed();
    this.options.onActivity?.();
  }

  private connectionClosed(count = 1): void {
    this.active -= count;
    this.fds.release(2 * count);
  }

  /** The pump thread's batched news (see PumpReport). */
  private onReport(closed: number, failed: number, lastErrno: number, exhausted: number, finished: boolean, reached: boolean): void {
    this.connectionClosed(closed);
    this.failed += failed;
    // The target answers again (after the last failure): that failure is no longer shown.
    if (reached) this.lastError = null;
    else if (failed > 0 && lastErrno > 0) {
      const code = getSystemErrorName(-lastErrno);
      if (outOfDescriptors({ code })) this.fds.exhausted();
      else this.lastError = describeTargetError({ code }, this.target);
    }
    if (exhausted > 0) this.fds.exhausted();
    // Descriptors were freed: accepting may go on before its retry timer.
    if (closed > 0 && this.retry) {
      clearTimeout(this.retry);
      this.startAccepting();
    }
    if (finished) this.finished = true;
    this.maybeFinish();
    this.options.onActivity?.();
  }

  private maybeFinish(): void {
    if (this.finished && this.lookups === 0) this.onClosed?.();
  }
}
