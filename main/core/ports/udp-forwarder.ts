import dgram from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { closeSync } from 'node:fs';
import { isIP, type AddressInfo } from 'node:net';
import { errnoCode } from '../../../common/errno';
import { datagramAddress, pollStart, pollStop, POLL_READABLE, receiveDatagram, sendDatagram, type PollHandle } from '../../../native';
import { processFdBudget, type FdBudget } from '../limits/fd-budget';
import { describeTargetError, descriptorsRefusal, type ForwardTarget, type ForwarderEvents } from './forwarding';
import { FlowTable } from './udp-flows';

/**
 * The userland UDP forwarder behind a published UDP port. One socket is
 * bound to the published address (ours, or the helper's, handed over as an
 * fd); it is read and written through the addon (native/datagram.ts: Node's
 * dgram would set SO_REUSEADDR on it). Each client address gets its own
 * socket connected to the target, so the target's answers find their way
 * back to that client, from the published address and port, as the client
 * expects. Flows end after an idle time and are bounded (udp-flows.ts).
 */

export interface UdpForwarderStats {
  /** Flows open now (clients heard from within the idle time). */
  active: number;
  /** Flows since the forwarder started. */
  total: number;
  /** Flows whose target could not be reached (refused, unresolvable, unreachable). */
  failed: number;
  bytesIn: number;
  bytesOut: number;
  packetsIn: number;
  packetsOut: number;
  /** Datagrams not forwarded: too large, no descriptor, a full queue or socket buffer. */
  dropped: number;
}

export interface UdpForwarderOptions extends ForwarderEvents {
  /** A flow with no datagram either way for this long ends (default 60 s). */
  idleMs?: number;
  /** Most flows at once; the one idle the longest makes room (default 1,024). */
  maxFlows?: number;
  fds?: FdBudget;
  now?: () => number;
}

interface Flow {
  readonly key: string;
  /** The client's raw socket address: where answers go. */
  readonly from: Buffer;
  /** Towards the target; replaced once if a name resolves to the other family. */
  socket: dgram.Socket;
  family: 4 | 6;
  ready: boolean;
  /** Datagrams from the client while the target socket connects (bounded). */
  queue: Buffer[];
  failed: boolean;
  closed: boolean;
}

/** Datagrams read in one wake-up before other work gets its turn (the poll calls again while more wait). */
const READ_BURST = 64;
/** Datagrams held for one flow while its socket connects; more are dropped (UDP may lose them anyway). */
const MAX_QUEUED = 32;

/** One address for the target: a literal as it is; a name, IPv4 first (as Docker's userland proxy), then IPv6. */
async function resolveTarget(host: string): Promise<{ address: string; family: 4 | 6 }> {
  const literal = isIP(host);
  if (literal === 4 || literal === 6) return { address: host, family: literal };
  try {
    return { address: (await lookup(host, { family: 4 })).address, family: 4 };
  } catch (error) {
    try {
      return { address: (await lookup(host, { family: 6 })).address, family: 6 };
    } catch {
      throw error;
    }
  }
}

export class UdpForwarder {
  private readonly flows: FlowTable<Flow>;
  private readonly fds: FdBudget;
  private readonly bound: AddressInfo;
  private readonly poll: PollHandle;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private lastError: string | null = null;
  private listenError: string | null = null;
  private counts = { total: 0, failed: 0, bytesIn: 0, bytesOut: 0, packetsIn: 0, packetsOut: 0, dropped: 0 };

  private constructor(
    private readonly fd: number,
    readonly target: ForwardTarget,
    private readonly options: UdpForwarderOptions,
  ) {
    this.flows = new FlowTable<Flow>({
      ...(options.idleMs !== undefined ? { idleMs: options.idleMs } : {}),
      ...(options.maxFlows !== undefined ? { maxFlows: options.maxFlows } : {}),
      ...(options.now !== undefined ? { now: options.now } : {}),
    });
    this.fds = options.fds ?? processFdBudget();
    const local = datagramAddress(fd);
    this.bound = { address: local.address, port: local.port, family: isIP(local.address) === 6 ? 'IPv6' : 'IPv4' };
    this.poll = pollStart(fd, POLL_READABLE, (error) => {
      if (error !== null) {
        // The published socket itself failed (it is not the target's fault): say so on the mapping.
        this.listenError = `Berth stopped receiving on UDP port ${this.bound.port} (${errnoCode(error) ?? error.message}); remove and add the mapping again`;
        this.options.onActivity?.();
        return;
      }
      this.readBurst();
    });
  }

  /**
   * Serves the bound UDP socket `fd` (from bindSocket or the helper). Takes
   * ownership of `fd`: closed by close(), or at once when it is not a UDP socket.
   */
  static listen(fd: number, target: ForwardTarget, options: UdpForwarderOptions = {}): Promise<UdpForwarder> {
    try {
      return Promise.resolve(new UdpForwarder(fd, target, options));
    } catch (error) {
      closeSync(fd);
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }

  /** Where it receives (from the socket itself). */
  address(): AddressInfo {
    return { ...this.bound };
  }

  stats(): UdpForwarderStats {
    return { active: this.flows.size, ...this.counts };
  }

  /** The last time the target could not be reached (refused, unresolvable...); the mapping keeps serving. */
  get lastTargetError(): string | null {
    return this.lastError;
  }

  /** New clients are not served right now: Berth is out of descriptors, or the published socket failed. */
  get acceptError(): string | null {
    if (this.listenError !== null) return this.listenError;
    return this.fds.forwardingRefused ? descriptorsRefusal(this.bound.port) : null;
  }

  /** Stops receiving (the port is free when this resolves) and ends every flow. */
  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    // Before the close: polling a closed (or reused) descriptor is undefined in libuv.
    pollStop(this.poll);
    closeSync(this.fd);
    for (const flow of this.flows.clear()) this.endFlow(flow);
    return Promise.resolve();
  }

  private readBurst(): void {
    for (let i = 0; i < READ_BURST && !this.closed; i++) {
      let datagram;
      try {
        datagram = receiveDatagram(this.fd);
      } catch (error) {
        // EMSGSIZE: larger than any UDP payload we forward; anything else is this one datagram's problem.
        if (errnoCode(error) === 'EMSGSIZE') this.counts.dropped++;
        continue;
      }
      if (datagram === null) return;
      this.fromClient(datagram.from, datagram.data);
    }
  }

  private fromClient(from: Buffer, data: Buffer): void {
    const key = from.toString('latin1');
    const known = this.flows.get(key);
    if (known !== undefined && known.failed && !known.ready) {
      // Its target could not be reached at all (a name that does not resolve...): dropped, and not kept
      // alive by the client's retries, so it expires and the next datagram after that tries again (one
      // lookup per client per idle time, however fast it sends).
      this.counts.dropped++;
      return;
    }
    const flow = this.flows.touch(key) ?? this.openFlow(key, from);
    if (flow === undefined) {
      this.counts.dropped++;
      return;
    }
    if (!flow.ready) {
      if (flow.queue.length < MAX_QUEUED) flow.queue.push(data);
      else this.counts.dropped++;
      return;
    }
    this.toTarget(flow, data);
  }

  private toTarget(flow: Flow, data: Buffer): void {
    try {
      flow.socket.send(data);
      this.counts.packetsIn++;
      this.counts.bytesIn += data.length;
    } catch {
      this.counts.dropped++;
    }
  }

  /** A new client: a socket of its own towards the target, if a descriptor is free. */
  private openFlow(key: string, from: Buffer): Flow | undefined {
    // One descriptor per flow, while more than the forwarders' floor stays free (fd-budget.ts).
    if (!this.fds.admit('forward', 1)) return undefined;
    this.counts.total++;
    const family = isIP(this.target.host) === 6 ? 6 : 4;
    const flow: Flow = { key, from: Buffer.from(from), socket: dgram.createSocket(`udp${family}`), family, ready: false, queue: [], failed: false, closed: false };
    const evicted = this.flows.add(key, flow);
    if (evicted !== undefined) this.endFlow(evicted);
    flow.socket.on('message', (data) => this.fromTarget(flow, data));
    flow.socket.on('error', (error) => this.targetFailed(flow, error));
    void this.connectFlow(flow);
    this.scheduleExpiry();
    this.options.onActivity?.();
    return flow;
  }

  private async connectFlow(flow: Flow): Promise<void> {
    let target: { address: string; family: 4 | 6 };
    try {
      target = await resolveTarget(this.target.host);
    } catch (error) {
      // The flow stays, failed and not ready, until it expires (see fromClient).
      this.targetFailed(flow, error);
      flow.queue = [];
      return;
    }
    if (flow.closed) return;
    let socket = flow.socket;
    if (target.family !== flow.family) {
      // A name that resolved to the other family: a socket of that family instead (nothing was sent on the first).
      socket.removeAllListeners('message');
      socket.close();
      socket = dgram.createSocket(target.family === 6 ? 'udp6' : 'udp4');
      flow.socket = socket;
      flow.family = target.family;
      socket.on('message', (data) => this.fromTarget(flow, data));
      socket.on('error', (error) => this.targetFailed(flow, error));
    }
    socket.connect(this.target.port, target.address, () => {
      if (flow.closed) return;
      flow.ready = true;
      for (const data of flow.queue.splice(0)) this.toTarget(flow, data);
    });
  }

  private fromTarget(flow: Flow, data: Buffer): void {
    if (flow.closed || this.closed) return;
    this.flows.touch(flow.key);
    try {
      sendDatagram(this.fd, data, flow.from);
      this.counts.packetsOut++;
      this.counts.bytesOut += data.length;
    } catch {
      // EAGAIN (the socket's buffer is full) or the client is gone: UDP drops it, as the network would.
      this.counts.dropped++;
    }
  }

  /** ICMP port unreachable (ECONNREFUSED), a name that does not resolve...: the flow stays, the mapping says why. */
  private targetFailed(flow: Flow, error: unknown): void {
    if (this.closed) return;
    if (errnoCode(error) === 'EMFILE' || errnoCode(error) === 'ENFILE') {
      this.fds.exhausted();
    } else {
      const sentence = describeTargetError(error, this.target);
      this.lastError = errnoCode(error) === 'ECONNREFUSED' ? `${sentence} (UDP)` : sentence;
    }
    if (!flow.failed) {
      flow.failed = true;
      this.counts.failed++;
    }
    this.options.onActivity?.();
  }

  private endFlow(flow: Flow): void {
    if (flow.closed) return;
    flow.closed = true;
    flow.queue = [];
    try {
      flow.socket.close();
    } catch {
      // Already closed.
    }
    this.fds.release();
    if (!this.closed) this.options.onActivity?.();
  }

  /** One timer for the whole table, set for the oldest flow's expiry. */
  private scheduleExpiry(): void {
    if (this.timer || this.closed) return;
    const due = this.flows.nextExpiryIn();
    if (due === undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      for (const flow of this.flows.expire()) this.endFlow(flow);
      this.scheduleExpiry();
    }, due + 1);
    this.timer.unref();
  }
}
