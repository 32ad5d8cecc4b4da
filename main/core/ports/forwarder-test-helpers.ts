/**
 * Fixtures for the forwarder tests (not shipped): a target server, a
 * forwarder on either data plane with a way to wait on its statistics, and
 * clients. Each test file runs `afterEach(runCleanups)`.
 */
import { readdirSync } from 'node:fs';
import net from 'node:net';
import { expect } from 'vitest';
import { Forwarder, type DataPlane, type ForwarderStats } from './forwarder';
import { listeningFd } from './test-support';

/** What each test started, stopped after it whatever happened. */
export const cleanups: Array<() => unknown> = [];
export async function runCleanups(): Promise<void> {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
}

/** A target server on a free port; `onSocket` handles each connection. */
export async function target(onSocket: (socket: net.Socket) => void, options: net.ServerOpts = {}): Promise<{ server: net.Server; port: number }> {
  const server = net.createServer(options, (socket) => {
    socket.on('error', () => {});
    onSocket(socket);
  });
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
  cleanups.push(() => new Promise((resolve) => server.close(resolve)));
  return { server, port: (server.address() as net.AddressInfo).port };
}

/** A forwarder on a fresh listening socket, with a way to wait on its stats (woken by onActivity, never by time). */
export async function forwarder(
  plane: DataPlane,
  targetPort: number,
  options: { connectTimeoutMs?: number } = {},
): Promise<{ fwd: Forwarder; port: number; until(pred: (s: ForwarderStats) => boolean): Promise<ForwarderStats> }> {
  const { fd, port } = listeningFd();
  const waiters = new Set<() => void>();
  const fwd = await Forwarder.listen(fd, { host: '127.0.0.1', port: targetPort }, { ...options, plane, onActivity: () => waiters.forEach((w) => w()) });
  expect(fwd.plane).toBe(plane);
  cleanups.push(() => fwd.close());
  const until = (pred: (s: ForwarderStats) => boolean): Promise<ForwarderStats> =>
    new Promise((resolve) => {
      const check = (): void => {
        const stats = fwd.stats();
        if (pred(stats)) {
          waiters.delete(check);
          resolve(stats);
        }
      };
      waiters.add(check);
      check();
    });
  return { fwd, port, until };
}

export function connect(port: number, options: { allowHalfOpen?: boolean } = {}): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port, ...options }, () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Everything the socket receives until the peer ends (or resets) it. */
export function received(socket: net.Socket): Promise<{ data: Buffer; error: string | undefined }> {
  const chunks: Buffer[] = [];
  let error: string | undefined;
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.on('error', (e: NodeJS.ErrnoException) => (error = e.code));
  return new Promise((resolve) => socket.once('close', () => resolve({ data: Buffer.concat(chunks), error })));
}

export const openFds = (): number => readdirSync('/proc/self/fd').length;

/**
 * A client's view of a connection the forwarder cannot serve: whatever came
 * back before the end. The reset may reach the client before its own connect
 * completes (the native plane knows a refusal at once), so a refused connect
 * is one of the outcomes, not a failure of the test.
 */
export function attempt(port: number, data?: string): Promise<{ data: Buffer; error: string | undefined }> {
  const socket = net.connect({ host: '127.0.0.1', port });
  if (data !== undefined) socket.write(data);
  return received(socket);
}
