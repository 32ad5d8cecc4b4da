import { closeSync, fstatSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { connectUnix, peerCredentials } from '../../native';
import {
  encodeFrame,
  OPERATIONS,
  parseJson,
  PROTOCOL_MAX,
  PROTOCOL_MIN,
  serverFrame,
  type OperationArgs,
  type OperationName,
  type OperationResult,
} from '../../common/protocol';
import { BERTH_VERSION } from '../../common/app-version';
import { errnoCode } from '../../common/errno';
import { FrameChannel } from './channel';
import { HelperProtocolError, HelperRequestError, HelperUnavailableError } from './errors';

export interface HelperClientOptions {
  /** Sent in hello and written to the helper's audit log. */
  clientName?: string;
  /** A reply slower than this closes the connection with an error. */
  requestTimeoutMs?: number;
  /** How often to retry when the helper says BUSY or its backlog is full. */
  busyRetries?: number;
}

export type HelloInfo = OperationResult<'hello'>;

/** A socket the helper bound for us; ours to listen on (e.g. `server.listen({fd})`) and to close. */
export interface BoundSocket extends OperationResult<'bindPort'> {
  fd: number;
}

/** Receives a long operation's output as it streams (the trace). */
export type ProgressListener = (progress: Record<string, unknown>) => void;

interface Pending {
  id: number;
  op: OperationName;
  onProgress: ProgressListener | undefined;
  restartTimer(): void;
  resolve(reply: { result: unknown; fds: number[] }): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

const DEFAULT_TIMEOUT_MS = 10_000;

/**
 * A connection to the root helper. It talks only to a peer the kernel says
 * is uid 0: anyone else at that path is squatting and gets nothing.
 */
export class HelperClient {
  private readonly channel: FrameChannel;
  private nextId = 1;
  private inflight: Pending | undefined;
  private readonly waiting: Array<() => void> = [];
  private closedError: Error | undefined;
  private helloInfo: HelloInfo | undefined;

  private constructor(
    fd: number,
    private readonly timeoutMs: number,
  ) {
    this.channel = new FrameChannel(fd, {
      onFrame: (body, fds) => this.onFrame(body, fds),
      onClose: (error) => this.onClose(error),
    });
  }

  static async connect(socketPath: string, options: HelperClientOptions = {}): Promise<HelperClient> {
    const retries = options.busyRetries ?? 5;
    for (let attempt = 0; ; attempt++) {
      try {
        const client = new HelperClient(
          connectTrusted(socketPath),
          options.requestTimeoutMs ?? DEFAULT_TIMEOUT_MS,
        );
        try {
          client.helloInfo = await client.request('hello', {
            protocol: [PROTOCOL_MIN, PROTOCOL_MAX],
            client: options.clientName ?? `berth/${BERTH_VERSION}`,
          });
        } catch (error) {
          client.close();
          throw error;
        }
        return client;
      } catch (error) {
        if (!isBusy(error) || attempt >= retries) throw error;
        await sleep(20 * 2 ** attempt);
      }
    }
  }

  get info(): HelloInfo {
    if (!this.helloInfo) throw new Error('not connected');
    return this.helloInfo;
  }

  async request<Op extends OperationName>(
    op: Op,
    args: OperationArgs<Op>,
    onProgress?: ProgressListener,
  ): Promise<OperationResult<Op>> {
    const { result, fds } = await this.exchange(op, args, onProgress);
    closeAll(fds); // only bindPort carries fds; anything else that arrives is not ours to keep
    return result;
  }

  async bindPort(args: OperationArgs<'bindPort'>): Promise<BoundSocket> {
    const { result, fds } = await this.exchange('bindPort', args);
    const [fd, ...extra] = fds;
    closeAll(extra);
    if (fd === undefined || !fstatSync(fd).isSocket()) {
      if (fd !== undefined) closeAll([fd]);
      this.close();
      throw new HelperProtocolError('the helper did not pass a socket with its bindPort reply');
    }
    return { ...result, fd };
  }

  close(): void {
    this.channel.close();
  }

  private async exchange<Op extends OperationName>(
    op: Op,
    args: OperationArgs<Op>,
    onProgress?: ProgressListener,
  ): Promise<{ result: OperationResult<Op>; fds: number[] }> {
    while (this.inflight) await new Promise<void>((resolve) => this.waiting.push(resolve));
    if (this.closedError) throw this.closedError;
    const id = this.nextId++;
    try {
      const reply = await new Promise<{ result: unknown; fds: number[] }>((resolve, reject) => {
        const expire = (): void =>
          this.channel.close(new HelperProtocolError(`the helper did not answer ${op} within ${this.timeoutMs} ms`));
        const pending: Pending = {
          id,
          op,
          onProgress,
          resolve,
          reject,
          timer: setTimeout(expire, this.timeoutMs),
          // Progress shows the helper is alive: the deadline is per silence, not per operation.
          restartTimer: () => pending.timer.refresh(),
        };
        this.inflight = pending;
        this.channel.send(encodeFrame({ id, op, args }));
      });
      const parsed = OPERATIONS[op].result.safeParse(reply.result);
      if (!parsed.success) {
        closeAll(reply.fds);
        throw new HelperProtocolError(`the helper's ${op} reply does not match the protocol`);
      }
      return { result: parsed.data as OperationResult<Op>, fds: reply.fds };
    } finally {
      this.waiting.shift()?.();
    }
  }

  private onFrame(body: Buffer, fds: number[]): void {
    let reply;
    try {
      reply = serverFrame.parse(parseJson(body));
    } catch {
      closeAll(fds);
      this.channel.close(new HelperProtocolError('the helper sent a malformed reply'));
      return;
    }
    const pending = this.inflight;
    if ('progress' in reply) {
      closeAll(fds);
      if (!pending || reply.id !== pending.id || !pending.onProgress) {
        this.channel.close(new HelperProtocolError('the helper sent progress nobody asked for'));
        return;
      }
      pending.restartTimer();
      pending.onProgress(reply.progress);
      return;
    }
    // id null: the helper refused the connection itself (UNAUTHORIZED, BUSY, bad frame).
    if (!pending || (reply.id !== null && reply.id !== pending.id)) {
      closeAll(fds);
      this.channel.close(new HelperProtocolError('the helper sent a reply nobody asked for'));
      return;
    }
    this.settle();
    if (reply.ok) {
      pending.resolve({ result: reply.result, fds });
    } else {
      closeAll(fds);
      pending.reject(new HelperRequestError(reply.error.code, reply.error.message));
    }
  }

  private onClose(error: Error | undefined): void {
    this.closedError =
      error instanceof HelperProtocolError
        ? error
        : new HelperUnavailableError('closed', `the helper closed the connection${error ? ` (${error.message})` : ''}`);
    const pending = this.inflight;
    this.settle();
    pending?.reject(this.closedError);
    // Let queued requests see the closed state.
    for (const wake of this.waiting.splice(0)) wake();
  }

  private settle(): void {
    if (this.inflight) clearTimeout(this.inflight.timer);
    this.inflight = undefined;
  }
}

/** connect(2) and check the peer is root before a byte is sent. */
function connectTrusted(socketPath: string): number {
  let fd: number;
  try {
    fd = connectUnix(socketPath);
  } catch (error) {
    throw unavailable(socketPath, errnoCode(error));
  }
  try {
    const peer = peerCredentials(fd);
    if (peer.uid !== 0) {
      throw new HelperUnavailableError(
        'impostor',
        `refusing to use ${socketPath}: it is served by uid ${peer.uid}, not root; something is squatting on the helper's socket`,
        peer.uid,
      );
    }
  } catch (error) {
    closeSync(fd);
    throw error;
  }
  return fd;
}

function unavailable(socketPath: string, errno: string | undefined): HelperUnavailableError {
  switch (errno) {
    case 'ENOENT':
      return new HelperUnavailableError('not-installed', `the helper is not installed (no socket at ${socketPath})`);
    case 'ECONNREFUSED':
      return new HelperUnavailableError('not-running', `the helper is not running (nothing listens on ${socketPath})`);
    case 'EACCES':
    case 'EPERM':
      return new HelperUnavailableError(
        'no-permission',
        `this user may not use the helper at ${socketPath} (it was installed for another account)`,
      );
    case 'EAGAIN':
      return new HelperUnavailableError('busy', 'the helper is busy; try again');
    default:
      return new HelperUnavailableError('not-running', `cannot reach the helper at ${socketPath} (${errno ?? 'unknown error'})`);
  }
}

/** Transient: the helper is at its connection cap, or its listen backlog is full. */
function isBusy(error: unknown): boolean {
  return (
    (error instanceof HelperRequestError && error.code === 'BUSY') ||
    (error instanceof HelperUnavailableError && error.reason === 'busy')
  );
}

function closeAll(fds: readonly number[]): void {
  for (const fd of fds) {
    try {
      closeSync(fd);
    } catch {
      // Already closed.
    }
  }
}
