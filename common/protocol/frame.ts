/**
 * Framing: a 4-byte big-endian length, then that many bytes of UTF-8 JSON.
 * The length cap is what keeps a hostile peer from making the helper buffer
 * gigabytes; it is checked on the header alone, before any body arrives.
 */
export const FRAME_HEADER_BYTES = 4;
export const MAX_FRAME_BYTES = 64 * 1024;

export class FrameError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FrameError';
  }
}

export function encodeFrame(message: unknown): Buffer {
  const body = Buffer.from(JSON.stringify(message), 'utf8');
  if (body.length === 0 || body.length > MAX_FRAME_BYTES) {
    throw new FrameError(`frame of ${body.length} bytes is outside 1..${MAX_FRAME_BYTES}`);
  }
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + body.length);
  frame.writeUInt32BE(body.length, 0);
  body.copy(frame, FRAME_HEADER_BYTES);
  return frame;
}

/**
 * Incremental decoder: feed it chunks as they arrive, get whole frame bodies
 * back. After it throws, the stream is out of sync and must be closed.
 */
export class FrameDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private expected = -1;

  /** True while part of a frame (header or body) has arrived but not all of it. */
  get hasPartialFrame(): boolean {
    return this.buffered > 0 || this.expected >= 0;
  }

  push(chunk: Buffer): Buffer[] {
    const frames: Buffer[] = [];
    if (chunk.length === 0) return frames;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    for (;;) {
      if (this.expected < 0) {
        if (this.buffered < FRAME_HEADER_BYTES) break;
        const length = this.take(FRAME_HEADER_BYTES).readUInt32BE(0);
        // Refuse before buffering the body: a 4 GiB prefix must cost nothing.
        if (length === 0 || length > MAX_FRAME_BYTES) {
          this.reset();
          throw new FrameError(`frame length ${length} is outside 1..${MAX_FRAME_BYTES}`);
        }
        this.expected = length;
      }
      if (this.buffered < this.expected) break;
      frames.push(this.take(this.expected));
      this.expected = -1;
    }
    return frames;
  }

  private take(n: number): Buffer {
    const all = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.buffered);
    const head = Buffer.from(all.subarray(0, n));
    const rest = all.subarray(n);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.buffered = rest.length;
    return head;
  }

  private reset(): void {
    this.chunks = [];
    this.buffered = 0;
    this.expected = -1;
  }
}
