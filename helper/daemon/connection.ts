import { createHash } from 'node:crypto';
import { closeSync } from 'node:fs';
import type { Socket } from 'node:net';
import { sendMessage, type PeerCredentials } from '../../native';
import {
  encodeFrame,
  FrameDecoder,
  parseJson,
  ProtocolError,
  RequestError,
  validateRequest,
  type ErrorCode,
  type OperationName,
  type ResponseEnvelope,
} from '../../common/protocol';
import type { AuditPolicy, OperationContext, OperationHandlers, OperationOutcome } from '../ops/types';
import type { AuditLog } from './audit';
import type { HelperConfig } from '../../common/helper-config/schema';
import { socketFd } from './socket-fd';
import type { Activity } from './activity';
import { fileSystemRefusal } from '../fs/errors';
import { notEnrolledMessage, type Enrolment } from './enrolment';

/** Frames read ahead of the one being handled before we stop reading (back-pressure). */
const MAX_QUEUED_FRAMES = 8;
/** Refusals logged per connection: enough to see a probe, too few to fill the disk. */
const MAX_LOGGED_REFUSALS = 16;
/** The protocol's cap on an error message; longer ones (e.g. a list of unknown keys) are cut, not sent broken. */
const MAX_MESSAGE = 1000;

export interface ConnectionDeps {
  readonly peer: PeerCredentials;
  readonly config: HelperConfig;
  /** Asked again before every request: an account unenrolled while connected gets no further action. */
  readonly enrolment: Enrolment;
  readonly audit: AuditLog;
  readonly handlers: OperationHandlers;
  readonly audited: AuditPolicy;
  /** Each request holds it until handled: a trace whose client hung up still runs to its end. */
  readonly activity: Activity;
  /** Under systemd as the installed service: how uninstall leaves (OperationContext.handOverRemoval). */
  readonly handOverRemoval?: () => void;
  readonly onClose: () => void;
}

type AnyHandler = (args: unknown, context: OperationContext) =>
  | OperationOutcome<OperationName>
  | Promise<OperationOutcome<OperationName>>;

/** What the audit log keeps of a request's args: all of them, but a policy only by its size and hash. */
function auditArgs(op: OperationName, args: Record<string, unknown>): Record<string, unknown> {
  if (op === 'storePolicy' && typeof args.policy === 'string') {
    return { bytes: Buffer.byteLength(args.policy), sha256: createHash('sha256').update(args.policy).digest('hex') };
  }
  return args;
}

/**
 * One authorized client. Requests are handled strictly one at a time, in
 * order, so a reply's fds can never be confused with another reply's.
 */
export class Connection {
  private readonly decoder = new FrameDecoder();
  private readonly queue: Buffer[] = [];
  private handling = false;
  private greeted = false;
  private closed = false;
  /** Set once we have given up on the stream; nothing more is read or handled. */
  private ending = false;
  private deadline: NodeJS.Timeout | undefined;
  private refusalsLogged = 0;

  constructor(
    private readonly socket: Socket,
    private readonly deps: ConnectionDeps,
  ) {
    const { idleTimeoutMs } = deps.config.limits;
    socket.setTimeout(idleTimeoutMs, () => this.close());
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => this.close());
    socket.on('close', () => this.close());
    socket.resume();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.deadline);
    this.queue.length = 0;
    this.socket.destroy();
    this.deps.onClose();
  }

  private onData(chunk: Buffer): void {
    if (this.closed || this.ending) return;
    let frames: Buffer[];
    try {
      frames = this.decoder.push(chunk);
    } catch (error) {
      // The stream is out of sync: answer once, then hang up.
      this.hangUp('BAD_REQUEST', (error as Error).message);
      return;
    }
    this.armDeadline(frames.length > 0);
    this.queue.push(...frames);
    if (this.queue.length >= MAX_QUEUED_FRAMES) this.socket.pause();
    void this.pump();
  }

  /** A frame that has begun must complete in time; each completed frame restarts the clock. */
  private armDeadline(completedAFrame: boolean): void {
    if (completedAFrame || !this.decoder.hasPartialFrame) {
      clearTimeout(this.deadline);
      this.deadline = undefined;
    }
    if (this.decoder.hasPartialFrame && this.deadline === undefined) {
      const ms = this.deps.config.limits.frameDeadlineMs;
      this.deadline = setTimeout(() => this.hangUp('BAD_REQUEST', `frame not completed within ${ms} ms`), ms);
    }
  }

  private async pump(): Promise<void> {
    if (this.handling) return;
    this.handling = true;
    while (this.queue.length > 0 && !this.closed) {
      await this.handle(this.queue.shift()!);
      // A client that does not read its replies must not make root buffer them.
      if (this.socket.writableNeedDrain) await this.drained();
    }
    this.handling = false;
    if (!this.closed) this.socket.resume();
  }

  private async handle(body: Buffer): Promise<void> {
    // Enrolment can end while a connection is open (the user unenrolled, or root removed them).
    if (!this.deps.enrolment.allows(this.deps.peer.uid)) {
      this.deps.audit.write({ peer: this.deps.peer, op: 'connect', result: 'UNAUTHORIZED', message: 'no longer enrolled; connection closed' });
      this.hangUp('UNAUTHORIZED', notEnrolledMessage(this.deps.peer.uid), false);
      return;
    }
    const release = this.deps.activity.hold();
    try {
      await this.handleHeld(body);
    } finally {
      release();
    }
  }

  private async handleHeld(body: Buffer): Promise<void> {
    let id: number | null = null;
    let op: OperationName | undefined;
    let args: unknown;
    try {
      const request = validateRequest(parseJson(body));
      ({ id, op, args } = request);
      if (!this.greeted && op !== 'hello') {
        throw new ProtocolError('BAD_REQUEST', 'send hello first: the protocol version is agreed before anything else');
      }
      // The args were validated against this op's schema by validateRequest.
      const handler = this.deps.handlers[op] as AnyHandler;
      const requestId = id;
      const after: Array<() => void> = [];
      const outcome = await handler(args, {
        peer: this.deps.peer,
        config: this.deps.config,
        enrolment: this.deps.enrolment,
        progress: (data) => {
          if (!this.closed) this.socket.write(encodeFrame({ id: requestId, progress: data }));
        },
        afterReply: (action) => after.push(action),
        ...(this.deps.handOverRemoval !== undefined ? { handOverRemoval: this.deps.handOverRemoval } : {}),
      });
      if (op === 'hello') this.greeted = true;
      this.record(op, args, 'ok');
      await this.reply({ id, ok: true, result: outcome.result }, outcome.fds ?? []);
      if (after.length > 0) await this.flushed();
      for (const action of after) action();
    } catch (caught) {
      if (caught instanceof RequestError) id = caught.id;
      const error = caught instanceof ProtocolError ? caught : (fileSystemRefusal(caught) ?? caught);
      const code: ErrorCode = error instanceof ProtocolError ? error.code : 'INTERNAL';
      const full = error instanceof ProtocolError ? error.message : 'internal error in the helper';
      const message = full.length > MAX_MESSAGE ? `${full.slice(0, MAX_MESSAGE - 1)}…` : full;
      if (!(error instanceof ProtocolError)) console.error('berth-helper: internal error:', error);
      this.record(op, args, code, message);
      await this.reply({ id, ok: false, error: { code, message } }, []);
    }
  }

  private record(op: OperationName | undefined, args: unknown, result: string, message?: string): void {
    // Refusals of ops we could not even name are logged too: they are probes.
    if (op !== undefined && !this.deps.audited[op]) return;
    if (result !== 'ok') {
      // A client looping on bad requests gets a few lines, not a full disk.
      if (this.refusalsLogged > MAX_LOGGED_REFUSALS) return;
      if (this.refusalsLogged++ === MAX_LOGGED_REFUSALS) {
        this.deps.audit.write({ peer: this.deps.peer, op: op ?? 'invalid', result, message: 'further refusals on this connection are not logged' });
        return;
      }
    }
    this.deps.audit.write({
      peer: this.deps.peer,
      op: op ?? 'invalid',
      ...(op !== undefined && typeof args === 'object' && args !== null ? { args: auditArgs(op, args as Record<string, unknown>) } : {}),
      result,
      ...(message !== undefined ? { message: message.slice(0, 300) } : {}),
    });
  }

  private async reply(message: ResponseEnvelope, fds: number[]): Promise<void> {
    try {
      if (this.closed) return;
      const frame = encodeFrame(message);
      if (fds.length === 0) {
        this.socket.write(frame);
        return;
      }
      // fds go out with sendmsg beside libuv: first let earlier frames flush so order holds.
      await this.flushed();
      if (this.closed) return;
      const sent = sendMessage(socketFd(this.socket), frame, fds);
      if (sent < frame.length) this.socket.write(frame.subarray(sent));
    } catch {
      // EAGAIN here means the client stopped reading; drop it rather than hold root's fds.
      this.close();
    } finally {
      for (const fd of fds) closeSync(fd); // the helper keeps no copy of a socket it handed over
    }
  }

  /**
   * Resolves once everything written so far has reached the kernel (or the
   * peer is gone): an empty write's callback runs after every earlier write's.
   */
  private flushed(): Promise<void> {
    if (this.closed || this.socket.writableLength === 0) return Promise.resolve();
    return new Promise((resolve) => this.socket.write(Buffer.alloc(0), () => resolve()));
  }

  private drained(): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        this.socket.off('drain', done);
        this.socket.off('close', done);
        resolve();
      };
      this.socket.on('drain', done);
      this.socket.on('close', done);
    });
  }

  private hangUp(code: ErrorCode, message: string, record = true): void {
    if (this.closed || this.ending) return;
    this.ending = true;
    clearTimeout(this.deadline);
    this.queue.length = 0;
    if (record) this.record(undefined, undefined, code, message);
    this.socket.end(encodeFrame({ id: null, ok: false, error: { code, message } }), () => this.close());
  }
}
