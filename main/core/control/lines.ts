import type { Socket } from 'node:net';

/** Longest line either side accepts: far above any state snapshot, small enough to bound memory. */
export const MAX_LINE_BYTES = 4 * 1024 * 1024;

/**
 * Newline-delimited JSON on a stream socket. A line longer than the cap, or
 * one that is not JSON, ends the connection: a peer that sends either is
 * broken or hostile, and guessing where the next message starts is worse.
 */
export function readJsonLines(
  socket: Socket,
  onMessage: (message: unknown) => void,
  /** After each chunk: the bytes of a line begun and not yet ended (0: none), for a deadline on it. */
  onPartial?: (pendingBytes: number) => void,
): void {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  socket.on('data', (chunk: Buffer) => {
    let start = 0;
    for (let newline = chunk.indexOf(10); newline !== -1; newline = chunk.indexOf(10, start)) {
      const part = chunk.subarray(start, newline);
      const line = pending.length > 0 ? Buffer.concat([...pending, part]) : part;
      pending = [];
      pendingBytes = 0;
      start = newline + 1;
      if (line.length > MAX_LINE_BYTES) return void socket.destroy(new Error('message too large'));
      let message: unknown;
      try {
        message = JSON.parse(line.toString('utf8'));
      } catch {
        return void socket.destroy(new Error('malformed message'));
      }
      onMessage(message);
      if (socket.destroyed) return;
    }
    if (start < chunk.length) {
      pending.push(chunk.subarray(start));
      pendingBytes += chunk.length - start;
      if (pendingBytes > MAX_LINE_BYTES) return void socket.destroy(new Error('message too large'));
    }
    onPartial?.(pendingBytes);
  });
}

export function writeJsonLine(socket: Socket, message: unknown): void {
  if (!socket.destroyed && socket.writable) socket.write(`${JSON.stringify(message)}\n`);
}
