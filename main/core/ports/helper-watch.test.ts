import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HelperWatch } from './helper-watch';

let dir: string;
const cleanups: Array<() => unknown> = [];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'berth-watch-'));
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  rmSync(dir, { recursive: true, force: true });
});

/** A watch whose callbacks resolve `next()` — tests wait on the event, never on time. */
function watcher(socketPath: string, options: ConstructorParameters<typeof HelperWatch>[2] = {}): { watch: HelperWatch; calls: () => number; next(): Promise<void> } {
  let count = 0;
  const waiting: Array<() => void> = [];
  const watch = new HelperWatch(
    socketPath,
    () => {
      count++;
      waiting.splice(0).forEach((wake) => wake());
    },
    options,
  );
  cleanups.push(() => watch.stop());
  return { watch, calls: () => count, next: () => new Promise<void>((resolve) => waiting.push(resolve)) };
}

async function listenAt(path: string): Promise<void> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(path, resolve));
  cleanups.push(() => new Promise((resolve) => server.close(resolve)));
}

describe('HelperWatch', () => {
  it('calls back as soon as the socket appears, without waiting for the poll', async () => {
    const socketPath = join(dir, 'helper.sock');
    // A poll far longer than any test: only the file event can wake it.
    const { watch, next } = watcher(socketPath, { pollMs: 3_600_000 });
    watch.start();
    expect(watch.running).toBe(true);
    const woken = next();
    await listenAt(socketPath);
    await woken;
  });

  it('calls back again when the socket changes (the helper chowns it after listening)', async () => {
    const socketPath = join(dir, 'helper.sock');
    await listenAt(socketPath);
    const { watch, next } = watcher(socketPath, { pollMs: 3_600_000, settleMs: [] });
    watch.start();
    const woken = next();
    chmodSync(socketPath, 0o600);
    await woken;
  });

  it('falls back to the poll while the directory does not exist, and watches it once it does', async () => {
    const socketDir = join(dir, 'run-berth');
    const socketPath = join(socketDir, 'helper.sock');
    const { watch, next, calls } = watcher(socketPath, { pollMs: 20, settleMs: [] });
    watch.start(); // no directory: no watch, only the poll
    await next();
    expect(calls()).toBeGreaterThan(0);
    mkdirSync(socketDir);
    await next(); // a poll tick, which now also sets up the watch
    await listenAt(socketPath);
    await next();
  });

  it('stops completely: nothing runs after stop()', () => {
    const { watch } = watcher(join(dir, 'helper.sock'), { pollMs: 10 });
    watch.start();
    watch.start(); // idempotent
    watch.stop();
    expect(watch.running).toBe(false);
    watch.stop();
    expect(watch.running).toBe(false);
  });
});
