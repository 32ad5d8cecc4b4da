import { createHash } from 'node:crypto';
import { closeSync } from 'node:fs';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Forwarder, requestedDataPlane, type DataPlane } from './forwarder';
import { attempt, cleanups, connect, forwarder, received, runCleanups, target } from './forwarder-test-helpers';
import { listeningFd } from './test-support';

afterEach(runCleanups);

/** `total` bytes in 64 KiB blocks that all differ (a lost, repeated or reordered block changes the hash). */
function* blocks(total: number): Generator<Buffer> {
  for (let sent = 0; sent < total; ) {
    const block = Buffer.alloc(Math.min(64 * 1024, total - sent), sent % 253);
    block.writeUInt32BE(sent >>> 0, 0);
    sent += block.length;
    yield block;
  }
}

/** Writes every block with back-pressure, then ends; resolves with the sha256 of what was written. */
function send(socket: net.Socket, total: number): Promise<string> {
  const hash = createHash('sha256');
  const source = blocks(total);
  return new Promise((resolve) => {
    const pump = (): void => {
      for (let next = source.next(); !next.done; next = source.next()) {
        hash.update(next.value);
        if (!socket.write(next.value)) {
          socket.once('drain', pump);
          return;
        }
      }
      socket.end();
      resolve(hash.digest('hex'));
    };
    pump();
  });
}

/** The sha256 and length of everything the socket receives until its peer's FIN. */
function digest(socket: net.Socket): Promise<{ sha256: string; length: number }> {
  const hash = createHash('sha256');
  let length = 0;
  socket.on('data', (chunk: Buffer) => {
    hash.update(chunk);
    length += chunk.length;
  });
  return new Promise((resolve) => socket.once('end', () => resolve({ sha256: hash.digest('hex'), length })));
}

describe.each<DataPlane>(['native', 'js'])('Forwarder on the %s data plane, moving data', (plane) => {
  it('carries 48 MiB each way at once, byte for byte, and counts them exactly', async () => {
    const total = 48 * 1024 * 1024;
    const echo = await target((socket) => socket.pipe(socket), { allowHalfOpen: true });
    const { port, until } = await forwarder(plane, echo.port);
    const client = await connect(port, { allowHalfOpen: true });
    const back = digest(client);
    const sent = await send(client, total);
    const got = await back;
    expect(got.length).toBe(total);
    expect(got.sha256).toBe(sent);
    client.end();
    expect(await until((s) => s.active === 0)).toEqual({ active: 0, total: 1, failed: 0, bytesIn: total, bytesOut: total });
  });

  it('passes a half-close from the target on: it says its last word first and still gets everything the client sends', async () => {
    let targetGot: Promise<{ sha256: string; length: number }> | undefined;
    const early = await target(
      (socket) => {
        targetGot = digest(socket);
        socket.end('bye'); // the target's FIN goes first, its read side stays open
        targetGot.then(() => socket.destroy(), () => undefined);
      },
      { allowHalfOpen: true },
    );
    const { port, until } = await forwarder(plane, early.port);
    const client = await connect(port, { allowHalfOpen: true });
    const reply = digest(client);
    await reply; // the client saw the target's FIN...
    const sent = await send(client, 4 * 1024 * 1024); // ...and can still send
    expect(await targetGot).toEqual({ sha256: sent, length: 4 * 1024 * 1024 });
    await until((s) => s.active === 0);
  });

  it('holds 500 connections open at once, then lets them all go', async () => {
    const echo = await target((socket) => socket.pipe(socket));
    const { port, until } = await forwarder(plane, echo.port);
    const clients = await Promise.all(Array.from({ length: 500 }, () => connect(port)));
    // Each one answers through the forwarder (so each is really connected to the target).
    await Promise.all(
      clients.map(
        (client, i) =>
          new Promise<void>((resolve) => {
            client.once('data', (chunk: Buffer) => {
              expect(chunk.toString()).toBe(`ping ${i}`);
              resolve();
            });
            client.write(`ping ${i}`);
          }),
      ),
    );
    expect((await until((s) => s.active === 500)).total).toBe(500);
    const closed = clients.map((client) => received(client));
    for (const client of clients) client.end();
    await Promise.all(closed);
    expect(await until((s) => s.active === 0)).toMatchObject({ total: 500, failed: 0 });
  });

  it('gives up on a target that neither accepts nor refuses, and says so', async () => {
    // A listener nobody accepts from, its queue filled: the kernel drops the next SYNs, so connects hang.
    const { fd: stuckFd, port: stuckPort } = listeningFd('127.0.0.1', 1);
    cleanups.push(() => closeSync(stuckFd));
    const fillers = await Promise.all([0, 1, 2].map(() => fill(stuckPort)));
    cleanups.push(() => fillers.forEach((socket) => socket?.destroy()));
    const { fwd, port, until } = await forwarder(plane, stuckPort, { connectTimeoutMs: 200 });
    await attempt(port);
    expect(await until((s) => s.active === 0)).toMatchObject({ total: 1, failed: 1 });
    expect(fwd.lastTargetError).toBe(`127.0.0.1:${stuckPort} did not answer`);
  });
});

/** One connection into a listener's queue; undefined once the queue is full (the connect hangs: given up on). */
function fill(port: number): Promise<net.Socket | undefined> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port }, () => resolve(socket));
    socket.on('error', () => resolve(undefined));
    socket.setTimeout(300, () => {
      socket.destroy();
      resolve(undefined);
    });
  });
}

describe('choosing the data plane', () => {
  it('runs on the native plane here unless told otherwise', async () => {
    const previous = process.env.BERTH_DATA_PLANE;
    delete process.env.BERTH_DATA_PLANE;
    try {
      const { fd } = listeningFd();
      const fwd = await Forwarder.listen(fd, { host: '127.0.0.1', port: 1 });
      cleanups.push(() => fwd.close());
      expect(fwd.plane).toBe('native');
    } finally {
      if (previous !== undefined) process.env.BERTH_DATA_PLANE = previous;
    }
  });

  it('BERTH_DATA_PLANE=js forces the JS plane (for a user who meets a bug in the native one)', async () => {
    const previous = process.env.BERTH_DATA_PLANE;
    process.env.BERTH_DATA_PLANE = 'js';
    try {
      const { fd } = listeningFd();
      const fwd = await Forwarder.listen(fd, { host: '127.0.0.1', port: 1 });
      cleanups.push(() => fwd.close());
      expect(fwd.plane).toBe('js');
    } finally {
      if (previous === undefined) delete process.env.BERTH_DATA_PLANE;
      else process.env.BERTH_DATA_PLANE = previous;
    }
    expect(requestedDataPlane({ BERTH_DATA_PLANE: 'native' })).toBe('native');
    expect(requestedDataPlane({ BERTH_DATA_PLANE: 'fast' })).toBeUndefined();
    expect(requestedDataPlane({})).toBeUndefined();
  });
});
