import { closeSync, fstatSync } from 'node:fs';
import net from 'node:net';
import { setHeapTrimThreshold } from '../../../native';
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

/**
 * Freed memory this process keeps for reuse instead of returning it to the kernel
 * at once. Forwarding reads into 64 KiB buffers that V8 frees in batches; with
 * glibc's default each batch went back and came again as page faults, and one
 * stream ran at a third of socat's speed (docs/BENCHMARKS.md, "Port forwarding").
 * The cost: up to this much more resident memory after a burst.
 */
export const FORWARDING_HEAP_TRIM_THRESHOLD = 64 * 1024 * 1024;
let heapTuned = false;

/** Once per process, before the first forwarder serves (a no-op off glibc). */
function tuneHeapForForwarding(): void {
  if (heapTuned) return;
  heapTuned = true;
  setHeapTrimThreshold(FORWARDING_HEAP_TRIM_THRESHOLD);
}

/** The other side failed: make this one go away too, with a reset when it was connected, as socat does. */
function destroyPeer(socket: net.Socket): void {
  if (socket.destroyed) return;
  if (socket.connecting || socket.pending) socket.destroy();
  else socket.resetAndDestroy();
}

interface Pair {
  client: net.Socket;
  target: net.Socket;
  open: number;
}

/**
 * The JavaScript data plane (the fallback where the native one cannot run,
 * and with BERTH_DATA_PLANE=js). It serves an already bound, listening
 * socket (ours, or one the helper bound and handed over) and copies each
 * accepted connection to the target and back.
 *
 * The per-connection path is kept lean on purpose (a benchmark holds it to
 * socat's figures): two sockets, `pipe()` both ways for back-pressure, no
 * per-chunk callbacks of our own, no logging, byte counts read from the
 * sockets' own counters only when someone asks.
 */
export class JsForwarder implements Forwarder {
  readonly plane = 'js';
  private readonly pairs = new Set<Pair>();
  private total = 0;
  private failed = 0;
  /** Bytes of connections already closed; open ones are read from their sockets. */
  private closedIn = 0;
  private closedOut = 0;
  private lastError: string | null = null;
  private closing: Promise<void> | undefined;
  private readonly connectTimeoutMs: number;
  private readonly fds: FdBudget;
  private readonly port: number;

  private constructor(
    private readonly server: net.Server,
    readonly target: ForwardTarget,
    private readonly options: ForwarderOptions,
  ) {
    this.connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    this.fds = options.fds ?? processFdBudget();
    this.port = (server.address() as net.AddressInfo).port;
    server.on('connection', (client: net.Socket) => this.onConnection(client));
    // accept(2) failing with EMFILE mostly never gets here: libuv then closes
    // its spare descriptor, accepts and closes every waiting connection, and
    // says nothing. When it cannot (the spare is gone) it reports it here and
    // keeps listening, and so do we: an 'error' without a listener would take
    // the whole backend down. Either way accepting resumes by itself once
    // descriptors are free; the budget counts again so the mappings say why.
    server.on('error', (error) => {
      if (outOfDescriptors(error)) this.fds.exhausted();
      this.options.onActivity?.();
    });
  }

  /**
   * Serves the listening socket `fd` (from bindSocket or the helper). Takes
   * ownership of `fd`: it is closed by close(), or right away if listening fails.
   */
  static async listen(fd: number, target: ForwardTarget, options: ForwarderOptions = {}): Promise<JsForwarder> {
    // Checked first: past this point net owns the fd and closes it on any failure.
    if (!fstatSync(fd).isSocket()) {
      closeSync(fd);
      throw new Error(`fd ${fd} is not a socket`);
    }
    tuneHeapForForwarding();
    const server = net.createServer({
      // Half-close: a client that has sent everything (FIN) still gets the reply.
      allowHalfOpen: true,
      // The client is not read until its target connection is up: nothing is buffered for a target that is down.
      pauseOnConnect: true,
      noDelay: true,
    });
    await new Promise<void>((resolve, reject) => {
      const onError = (error: Error): void => reject(error);
      server.once('error', onError);
      server.listen({ fd }, () => {
        server.off('error', onError);
        resolve();
      });
    }).catch((error: unknown) => {
      server.close();
      throw error;
    });
    return new JsForwarder(server, target, options);
  }

  /** Where it listens (from the socket itself, so it shows what was really bound). */
  address(): net.AddressInfo {
    return this.server.address() as net.AddressInfo;
  }

  stats(): ForwarderStats {
    let bytesIn = this.closedIn;
    let bytesOut = this.closedOut;
    for (const pair of this.pairs) {
      bytesIn += pair.client.bytesRead;
      bytesOut += pair.target.bytesRead;
    }
    return { active: this.pairs.size, total: this.total, failed: this.failed, bytesIn, bytesOut };
  }

  /**
   * Bytes accepted from one side and not yet handed to the kernel for the
   * other: what back-pressure keeps small. Computed on demand, for tests and diagnostics.
   */
  queuedBytes(): number {
    let queued = 0;
    for (const pair of this.pairs) queued += pair.client.writableLength + pair.target.writableLength;
    return queued;
  }

  /** The last connection that could not reach the target, if any; the forwarder keeps listening. */
  get lastTargetError(): string | null {
    return this.lastError;
  }

  /**
   * Why new connections are refused right now, if they are: the backend is
   * out of descriptors (its own limit, not the target's fault). Clears by
   * itself as connections close.
   */
  get acceptError(): string | null {
    return this.fds.forwardingRefused ? descriptorsRefusal(this.port) : null;
  }

  /** Stops listening (the port is free when this resolves) and destroys every open connection. */
  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      for (const pair of this.pairs) {
        pair.client.destroy();
        pair.target.destroy();
      }
    });
    return this.closing;
  }

  private onConnection(client: net.Socket): void {
    if (this.closing) {
      client.destroy();
      return;
    }
    // Two descriptors (client and target) while more than the forwarders' floor
    // stays free; else refused at once, so the backend keeps a few for itself
    // and the CLI (fd-budget.ts). A reset tells the client plainly.
    if (!this.fds.admit('forward', 2)) {
      client.on('error', () => undefined);
      client.resetAndDestroy();
      this.options.onActivity?.();
      return;
    }
    this.total++;
    const target = net.connect({
      host: this.target.host,
      port: this.target.port,
      allowHalfOpen: true,
      noDelay: true,
    });
    const pair: Pair = { client, target, open: 2 };
    this.pairs.add(pair);
    target.setTimeout(this.connectTimeoutMs, () => {
      if (target.connecting) target.destroy(Object.assign(new Error('connect timed out'), { code: 'ETIMEDOUT' }));
    });

    let targetConnected = false;
    client.on('error', () => destroyPeer(target));
    target.on('error', (error) => {
      if (!targetConnected) {
        // The target is down: this connection is lost, the listener is not.
        this.failed++;
        // No descriptor for the target's socket is Berth's limit, not the target's fault.
        if (outOfDescriptors(error)) this.fds.exhausted();
        else this.lastError = describeTargetError(error, this.target);
      }
      destroyPeer(client);
    });
    target.once('connect', () => {
      targetConnected = true;
      target.setTimeout(0);
      // The target answers again: its last failure is no longer true, so it is no longer shown.
      if (this.lastError !== null) {
        this.lastError = null;
        this.options.onActivity?.();
      }
      // pipe() gives back-pressure both ways (pause the reader while the writer is full)
      // and, with allowHalfOpen, passes each side's FIN on to the other.
      client.pipe(target);
      target.pipe(client);
      client.resume();
    });
    const onClose = (): void => {
      this.fds.release();
      if (--pair.open > 0) return;
      this.pairs.delete(pair);
      this.closedIn += client.bytesRead;
      this.closedOut += target.bytesRead;
      this.options.onActivity?.();
    };
    client.once('close', onClose);
    target.once('close', onClose);
    this.options.onActivity?.();
  }
}
