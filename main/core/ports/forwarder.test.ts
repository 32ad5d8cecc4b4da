import { createHash } from 'node:crypto';
import { closeSync, fstatSync, openSync } from 'node:fs';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { bindSocket } from '../../../native';
import { describeTargetError, Forwarder, type DataPlane } from './forwarder';
import { attempt, cleanups, connect, forwarder, openFds, received, runCleanups, target } from './forwarder-test-helpers';
import { listeningFd, unusedPort } from './test-support';

afterEach(runCleanups);

describe.each<DataPlane>(['native', 'js'])('Forwarder on the %s data plane', (plane) => {
  it('forwards both ways and counts connections and bytes', async () => {
    const echo = await target((socket) => socket.pipe(socket));
    const { port, until } = await forwarder(plane, echo.port);
    const client = await connect(port);
    const reply = received(client);
    client.write('hello');
    client.once('data', () => client.end());
    expect((await reply).data.toString()).toBe('hello');
    expect(await until((s) => s.active === 0)).toEqual({ active: 0, total: 1, failed: 0, bytesIn: 5, bytesOut: 5 });
  });

  it('passes a half-close on: the client ends its side and still gets the reply', async () => {
    // The target answers only once the client has finished sending (FIN), like a request/response over one stream.
    const counting = await target(
      (socket) => {
        let count = 0;
        socket.on('data', (chunk: Buffer) => (count += chunk.length));
        socket.on('end', () => socket.end(`got ${count} bytes`));
      },
      { allowHalfOpen: true },
    );
    const { port, until } = await forwarder(plane, counting.port);
    const client = await connect(port, { allowHalfOpen: true });
    const reply = received(client);
    let clientSawEnd = false;
    client.on('end', () => {
      clientSawEnd = true;
      client.end();
    });
    client.end('0123456789');
    const { data, error } = await reply;
    expect(data.toString()).toBe('got 10 bytes');
    expect(error).toBeUndefined();
    expect(clientSawEnd).toBe(true);
    await until((s) => s.active === 0);
  });

  it('moves 64 MiB to a slow reader with back-pressure: little is queued in the forwarder, nothing is lost', async () => {
    const total = 64 * 1024 * 1024;
    let maxQueued = 0;
    let got = 0;
    const sink = createHash('sha256');
    const current: { fwd?: Forwarder } = {};
    let finished!: () => void;
    const done = new Promise<void>((resolve) => (finished = resolve));
    const slow = await target((socket) => {
      // Slow on purpose: a pause after every chunk, so the forwarder's writes to it back up.
      socket.on('data', (chunk: Buffer) => {
        sink.update(chunk);
        got += chunk.length;
        maxQueued = Math.max(maxQueued, current.fwd!.queuedBytes());
        socket.pause();
        setTimeout(() => socket.resume(), 1);
      });
      socket.on('end', () => {
        socket.end();
        finished();
      });
    });
    const forwarding = await forwarder(plane, slow.port);
    current.fwd = forwarding.fwd;
    const client = await connect(forwarding.port);
    client.on('error', () => {});
    const source = createHash('sha256');
    let sent = 0;
    const pump = (): void => {
      while (sent < total) {
        const chunk = Buffer.alloc(256 * 1024, sent % 251);
        chunk.writeUInt32BE(sent >>> 0, 0); // every block differs: a lost or repeated one changes the hash
        source.update(chunk);
        sent += chunk.length;
        if (!client.write(chunk)) {
          client.once('drain', pump);
          return;
        }
      }
      client.end();
    };
    pump();
    await done;
    expect(got).toBe(total);
    expect(sink.digest('hex')).toBe(source.digest('hex'));
    // Without back-pressure most of the 64 MiB would sit in the forwarder's write queue.
    expect(maxQueued).toBeLessThan(2 * 1024 * 1024);
  });

  it('leaks no file descriptors over 1,000 connections', async () => {
    const echo = await target((socket) => socket.pipe(socket));
    const { port, until } = await forwarder(plane, echo.port);
    // One connection first: lazily created handles (timers, the resolver) are not leaks.
    const warm = await connect(port);
    const warmDone = received(warm);
    warm.end('x');
    await warmDone;
    await until((s) => s.active === 0);
    const before = openFds();
    for (let batch = 0; batch < 50; batch++) {
      await Promise.all(
        Array.from({ length: 20 }, async (_, i) => {
          const client = await connect(port);
          const reply = received(client);
          client.end(`connection ${batch}-${i}`);
          expect((await reply).data.toString()).toBe(`connection ${batch}-${i}`);
        }),
      );
    }
    const stats = await until((s) => s.active === 0);
    expect(stats.total).toBe(1001);
    expect(openFds()).toBe(before);
  });

  it('destroys the target side when the client resets', async () => {
    let targetSide: Promise<unknown> | undefined;
    const accepted = new Promise<void>((resolve) => {
      void target((socket) => {
        targetSide = received(socket);
        resolve();
      }).then(async ({ port: targetPort }) => {
        const { port } = await forwarder(plane, targetPort);
        const client = await connect(port);
        client.write('start');
        await accepted;
        client.resetAndDestroy();
      });
    });
    await accepted;
    await targetSide; // resolves only when the target's socket has closed
  });

  it('destroys the client side when the target resets', async () => {
    const resetting = await target((socket) => socket.once('data', () => socket.resetAndDestroy()));
    const { port, until } = await forwarder(plane, resetting.port);
    const client = await connect(port);
    const outcome = received(client);
    client.write('anything');
    expect((await outcome).error).toBe('ECONNRESET');
    await until((s) => s.active === 0);
  });

  it('keeps listening when the target is down, says why, and forwards once it is up (then the failure is no longer shown)', async () => {
    const downPort = unusedPort();
    const { fwd, port, until } = await forwarder(plane, downPort);
    expect((await attempt(port, 'hello?')).data.length).toBe(0);
    const stats = await until((s) => s.failed === 1 && s.active === 0);
    expect(stats.total).toBe(1);
    expect(fwd.lastTargetError).toBe(`nothing is listening on 127.0.0.1:${downPort}`);
    // The target comes up on the very port the mapping points at.
    const up = net.createServer((socket) => socket.end('up now'));
    await new Promise<void>((resolve) => up.listen({ host: '127.0.0.1', port: downPort }, resolve));
    cleanups.push(() => new Promise((resolve) => up.close(resolve)));
    const second = await connect(port);
    const secondOutcome = received(second);
    second.end();
    expect((await secondOutcome).data.toString()).toBe('up now');
    expect((await until((s) => s.total === 2 && s.active === 0)).failed).toBe(1);
    expect(fwd.lastTargetError).toBeNull();
  });

  it('reports why the target could not be reached', async () => {
    const downPort = unusedPort();
    const { fwd, port, until } = await forwarder(plane, downPort);
    await attempt(port);
    await until((s) => s.failed === 1);
    expect(fwd.lastTargetError).toBe(`nothing is listening on 127.0.0.1:${downPort}`);
    expect(describeTargetError({ code: 'ENOTFOUND' }, { host: 'web.invalid', port: 80 })).toBe('web.invalid could not be resolved to an address');
    expect(describeTargetError({ code: 'ETIMEDOUT' }, { host: '::1', port: 80 })).toBe('[::1]:80 did not answer');
    expect(describeTargetError(new Error('odd'), { host: 'h', port: 1 })).toBe('could not connect to h:1');
  });

  it('says a target name does not resolve, and keeps listening', async () => {
    const { fd, port } = listeningFd();
    let activity = 0;
    const wake: Array<() => void> = [];
    const fwd = await Forwarder.listen(fd, { host: 'no-such-host.invalid', port: 80 }, { plane, onActivity: () => (activity++, wake.splice(0).forEach((w) => w())) });
    cleanups.push(() => fwd.close());
    const client = await connect(port);
    await received(client);
    while (fwd.stats().failed === 0) await new Promise<void>((resolve) => wake.push(resolve));
    expect(activity).toBeGreaterThan(0);
    expect(fwd.lastTargetError).toMatch(/^no-such-host\.invalid could not be resolved/);
    // Still accepting.
    const again = await connect(port);
    await received(again);
  });

  it('close() stops listening, destroys open connections and frees the port', async () => {
    const silent = await target(() => {});
    const { fwd, port, until } = await forwarder(plane, silent.port);
    const client = await connect(port);
    const outcome = received(client);
    await until((s) => s.active === 1);
    await fwd.close();
    await outcome;
    expect(fwd.stats().active).toBe(0);
    await expect(connect(port)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    // Free: it can be bound again at once.
    closeSync(bindSocket('127.0.0.1', port, 'tcp', 1));
  });

  it('refuses an fd that is not a socket, and closes it', async () => {
    const fd = openSync('/dev/null', 'r');
    await expect(Forwarder.listen(fd, { host: '127.0.0.1', port: 1 }, { plane })).rejects.toThrow(/not a socket/);
    expect(() => fstatSync(fd)).toThrow(expect.objectContaining({ code: 'EBADF' }));
  });
});
