import { closeSync } from 'node:fs';
import {
  POLL_READABLE,
  POLL_WRITABLE,
  pollStart,
  pollStop,
  pollUpdate,
  receiveMessage,
  sendMessage,
  type PollHandle,
} from '../../native';
import { FrameDecoder, MAX_FRAME_BYTES, FRAME_HEADER_BYTES } from '../../common/protocol';
import { errnoCode } from '../../common/errno';

/** A reply can carry at most this many fds; more is a protocol violation (MSG_CTRUNC). */
const MAX_FDS_PER_READ = 4;

export interface ChannelEvents {
  onFrame(body: Buffer, fds: number[]): void;
  onClose(error: Error | undefined): void;
}

/**
 * A framed, fd-carrying stream over a raw UNIX socket fd, driven by a
 * uv_poll watcher from the addon. Node's own sockets read with read(2),
 * which makes the kernel discard passed fds, so replies that carry a socket
 * must be read with recvmsg(2) here instead.
 */
export class FrameChannel {
  private readonly decoder = new FrameDecoder();
  private readonly poll: PollHandle;
  private pendingFds: number[] = [];
  private outbox: Buffer[] = [];
  private closed = false;

  constructor(
    private readonly fd: number,
    private readonly events: ChannelEvents,
  ) {
    this.poll = pollStart(fd, POLL_READABLE, (error, ready) => this.onReady(error, ready));
  }

  send(frame: Buffer): void {
    if (this.closed) throw new Error('channel is closed');
    this.outbox.push(frame);
    this.flush();
  }

  close(error?: Error): void {
    if (this.closed) return;
    this.closed = true;
    pollStop(this.poll); // before close(2): libuv must stop watching the fd first
    closeSync(this.fd);
    this.closeFds(this.pendingFds);
    this.pendingFds = [];
    this.outbox = [];
    this.events.onClose(error);
  }

  private onReady(error: Error | null, ready: number): void {
    if (this.closed) return;
    if (error) {
      // POLLERR (a reset, say) may follow a frame explaining it: read what is there first.
      this.readAll();
      this.close(error);
      return;
    }
    if (ready & POLL_WRITABLE) this.flush();
    if (ready & POLL_READABLE) this.readAll();
  }

  private flush(): void {
    try {
      while (this.outbox.length > 0) {
        const head = this.outbox[0]!;
        const sent = sendMessage(this.fd, head, []);
        if (sent < head.length) {
          this.outbox[0] = head.subarray(sent);
          break;
        }
        this.outbox.shift();
      }
    } catch (error) {
      if (errnoCode(error) !== 'EAGAIN') {
        // The peer may have hung up after saying why (BUSY, UNAUTHORIZED): read that first.
        this.readAll();
        this.close(error as Error);
        return;
      }
    }
    // Watch for writability only while something waits to go out.
    if (!this.closed) pollUpdate(this.poll, this.outbox.length > 0 ? POLL_READABLE | POLL_WRITABLE : POLL_READABLE);
  }

  private readAll(): void {
    while (!this.closed) {
      let message;
      try {
        message = receiveMessage(this.fd, FRAME_HEADER_BYTES + MAX_FRAME_BYTES, MAX_FDS_PER_READ);
      } catch (error) {
        this.close(error as Error);
        return;
      }
      if (message === null) return;
      if (message.data.length === 0 && message.fds.length === 0) {
        this.close(undefined);
        return;
      }
      // fds ride on the first byte of the reply that carries them; requests are
      // one at a time, so every fd seen before a frame completes belongs to it.
      this.pendingFds.push(...message.fds);
      let frames: Buffer[];
      try {
        frames = this.decoder.push(message.data);
      } catch (error) {
        this.close(error as Error);
        return;
      }
      for (const frame of frames) {
        const fds = this.pendingFds;
        this.pendingFds = [];
        this.events.onFrame(frame, fds);
        if (this.closed) return;
      }
    }
  }

  private closeFds(fds: number[]): void {
    for (const fd of fds) {
      try {
        closeSync(fd);
      } catch {
        // Already closed.
      }
    }
  }
}
