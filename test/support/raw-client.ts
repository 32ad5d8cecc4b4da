import { connect, type Socket } from 'node:net';
import { encodeFrame, FrameDecoder, responseEnvelope, type ResponseEnvelope } from '../../common/protocol';

/**
 * A byte-level client for bad-input tests: writes whatever it is told and
 * collects the replies the helper sends back.
 */
export class RawClient {
  private readonly decoder = new FrameDecoder();
  private readonly replies: ResponseEnvelope[] = [];
  private waiter: (() => void) | undefined;
  readonly closed: Promise<void>;

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      for (const body of this.decoder.push(chunk)) {
        this.replies.push(responseEnvelope.parse(JSON.parse(body.toString('utf8'))));
      }
      this.waiter?.();
    });
    socket.on('error', () => {});
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.waiter?.();
        resolve();
      }),
    );
  }

  static open(socketPath: string): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = connect(socketPath, () => resolve(new RawClient(socket)));
      socket.once('error', reject);
    });
  }

  write(bytes: Buffer | string): void {
    this.socket.write(bytes);
  }

  send(message: unknown): void {
    this.socket.write(encodeFrame(message));
  }

  /** The next reply, or undefined if the helper closed the connection first. */
  async next(): Promise<ResponseEnvelope | undefined> {
    while (this.replies.length === 0) {
      if (this.socket.destroyed || this.socket.readableEnded) return undefined;
      await new Promise<void>((resolve) => (this.waiter = resolve));
    }
    return this.replies.shift();
  }

  async hello(): Promise<ResponseEnvelope | undefined> {
    this.send({ id: 1, op: 'hello', args: { protocol: [1, 1], client: 'raw-test' } });
    return this.next();
  }

  destroy(): void {
    this.socket.destroy();
  }
}
