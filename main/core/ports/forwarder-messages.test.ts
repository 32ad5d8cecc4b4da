// The forwarder with traffic that changes shape: a conversation of small
// messages with bulk replies in between (the native plane moves small reads
// with recv/send and bulk with splice, and switches per direction), and
// TCP urgent data, which the kernel's splice stops at.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import type net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { DataPlane } from './forwarder';
import { connect, forwarder, received, runCleanups, target } from './forwarder-test-helpers';

afterEach(runCleanups);

/** A message of `size` bytes that differs from every other (index in its first bytes, then a pattern). */
function message(index: number, size: number): Buffer {
  const data = Buffer.alloc(size, (index * 7) % 251);
  data.write(String(index).padStart(Math.min(size, 6), '0').slice(0, size), 0);
  return data;
}

/** Resolves with the next `length` bytes the socket receives (data events buffered in between). */
function reader(socket: net.Socket): (length: number) => Promise<Buffer> {
  let held = Buffer.alloc(0);
  let waiting: { length: number; resolve: (data: Buffer) => void } | undefined;
  const settle = (): void => {
    if (waiting && held.length >= waiting.length) {
      const { length, resolve } = waiting;
      waiting = undefined;
      const data = held.subarray(0, length);
      held = held.subarray(length);
      resolve(data);
    }
  };
  socket.on('data', (chunk: Buffer) => {
    held = Buffer.concat([held, chunk]);
    settle();
  });
  return (length) =>
    new Promise((resolve) => {
      waiting = { length, resolve };
      settle();
    });
}

/** Runs a python3 script (Node cannot send urgent data); resolves with its stdout once it exited 0. */
async function python(script: string): Promise<string> {
  const child = spawn('python3', ['-c', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const code = await new Promise((resolve) => child.once('close', resolve));
  if (code !== 0) throw new Error(`python3 exited with ${String(code)}`);
  return out;
}

/**
 * A client that sends `before` (a python bytes expression), one urgent byte "!", then "def", and ends its
 * side when `end`; resolves with everything it got back until the other side's FIN.
 */
function urgentClient(port: number, before: string, { end }: { end: boolean }): Promise<string> {
  return python(
    [
      'import socket, sys',
      `s = socket.create_connection(("127.0.0.1", ${port}))`,
      `s.sendall(${before})`,
      's.send(b"!", socket.MSG_OOB)',
      's.sendall(b"def")',
      ...(end ? ['s.shutdown(socket.SHUT_WR)'] : []),
      'reply = b""',
      'while True:',
      '    chunk = s.recv(100)',
      '    if not chunk: break',
      '    reply += chunk',
      'sys.stdout.write(reply.decode())',
    ].join('\n'),
  );
}

describe.each<DataPlane>(['native', 'js'])('Forwarder on the %s data plane, with traffic that changes shape', (plane) => {
  it('keeps a conversation of small messages and bulk replies in order, byte for byte', async () => {
    // The target answers each request with the size it asks for: a few bytes, or up to 3 MiB.
    const server = await target((socket) => {
      const next = reader(socket);
      const serve = async (): Promise<void> => {
        for (let index = 0; ; index++) {
          const head = await next(4);
          const size = head.readUInt32BE(0);
          if (size === 0) return void socket.end();
          socket.write(message(index, size));
        }
      };
      void serve();
    });
    const { port, until } = await forwarder(plane, server.port);
    const client = await connect(port);
    const next = reader(client);
    // Small and bulk in turn, in both directions' terms: requests are 4 bytes, replies vary.
    const sizes = [1, 3 * 1024 * 1024, 17, 64 * 1024, 65 * 1024, 2, 1024 * 1024 + 3, 100, 512 * 1024, 5];
    let bytesOut = 0;
    for (const [index, size] of sizes.entries()) {
      const request = Buffer.alloc(4);
      request.writeUInt32BE(size, 0);
      client.write(request);
      const reply = await next(size);
      expect(reply.equals(message(index, size))).toBe(true);
      bytesOut += size;
    }
    client.end(Buffer.alloc(4)); // size 0: the target ends too
    await new Promise((resolve) => client.once('close', resolve));
    expect(await until((s) => s.active === 0)).toEqual({ active: 0, total: 1, failed: 0, bytesIn: 4 * (sizes.length + 1), bytesOut });
  });

  it('holds small writes for a target that stopped reading, then delivers them all in order', async () => {
    // The target (python3: Node cannot set SO_RCVBUF) takes 4 KiB at a time and starts reading only after
    // 0.5 s, so the forwarder's sends meet a full target while the client's 1,000-byte writes keep coming:
    // the native plane keeps what a small read could not send, and must send it first.
    const total = 8 * 1024 * 1024;
    const script = [
      'import socket, hashlib, sys, time',
      'l = socket.socket()',
      'l.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)',
      'l.bind(("127.0.0.1", 0)); l.listen(1)',
      'print(l.getsockname()[1], flush=True)',
      'c, _ = l.accept()',
      'time.sleep(0.5)',
      'h = hashlib.sha256(); n = 0',
      'while True:',
      '    chunk = c.recv(65536)',
      '    if not chunk: break',
      '    h.update(chunk); n += len(chunk)',
      'print(n, h.hexdigest(), flush=True)',
    ].join('\n');
    const python = spawn('python3', ['-c', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const lines = (async function* (): AsyncGenerator<string> {
      let held = '';
      for await (const chunk of python.stdout) {
        held += (chunk as Buffer).toString();
        for (let at = held.indexOf('\n'); at >= 0; at = held.indexOf('\n')) {
          yield held.slice(0, at);
          held = held.slice(at + 1);
        }
      }
    })();
    const targetPort = Number((await lines.next()).value);
    const { port, until } = await forwarder(plane, targetPort);
    const client = await connect(port);
    client.setNoDelay(true);
    const hash = createHash('sha256');
    for (let sent = 0, index = 0; sent < total; sent += 1000, index++) {
      const data = message(index, Math.min(1000, total - sent));
      hash.update(data);
      if (!client.write(data)) await new Promise((resolve) => client.once('drain', resolve));
    }
    client.end();
    expect((await lines.next()).value).toBe(`${total} ${hash.digest('hex')}`);
    expect(await until((s) => s.active === 0)).toMatchObject({ active: 0, total: 1, failed: 0, bytesIn: total });
  });

  it('passes on what follows urgent data in a bulk stream that ends with a FIN', async () => {
    // 1 MB (the native plane splices it), one urgent byte, "def", then the client's FIN. splice stops at the
    // urgent byte and, once the FIN is in too, says 0 there: taken for the end, "def" was lost.
    const server = await target(
      (socket) => {
        let got = 0;
        let tail = '';
        socket.on('data', (chunk: Buffer) => {
          got += chunk.length;
          tail = (tail + chunk.toString('latin1')).slice(-3);
        });
        socket.once('end', () => socket.end(`got ${got} ending ${tail}`));
      },
      { allowHalfOpen: true },
    );
    const { port, until } = await forwarder(plane, server.port);
    const out = await urgentClient(port, 'b"x" * 1000000', { end: true });
    expect(out).toBe('got 1000003 ending def');
    expect(await until((s) => s.active === 0)).toMatchObject({ active: 0, total: 1, failed: 0 });
  });

  it('does not stall on TCP urgent data: the bytes around it go through and the reply comes back', async () => {
    // What a telnet client's interrupt sends. Node cannot send urgent data, python3 can.
    const server = await target((socket) => {
      const next = reader(socket);
      void next(6).then((data) => socket.end(`got ${data.toString()}`));
    });
    const { port, until } = await forwarder(plane, server.port);
    const out = await urgentClient(port, 'b"abc"', { end: false });
    // The urgent byte itself leaves the stream (the socket does not ask for it inline), as a direct connection's reader would see.
    expect(out).toBe('got abcdef');
    expect(await until((s) => s.active === 0)).toMatchObject({ active: 0, total: 1, failed: 0 });
  });
});

describe('Forwarder on the native data plane, after a FIN', () => {
  // Native only: the JS plane cannot do this, since libuv stops watching a socket once it read its FIN and
  // learns of a later reset only at its next write (a direct connection's Node client is no better off).
  it('closes the connection when the target resets after its FIN, rather than hold the client half-open', async () => {
    const server = await target(
      (socket) => {
        socket.end('bye'); // its FIN first...
        setTimeout(() => socket.resetAndDestroy(), 100); // ...then a reset, while the client says nothing
      },
      { allowHalfOpen: true },
    );
    const { port, until } = await forwarder('native', server.port);
    const client = await connect(port, { allowHalfOpen: true });
    const outcome = received(client);
    await new Promise((resolve) => client.once('end', resolve));
    // Both sockets closed at the reset: nothing held open for a client that may never write again.
    expect(await until((s) => s.active === 0)).toMatchObject({ active: 0, total: 1 });
    // The client learns it at its next write: the forwarder's side is gone, with a reset.
    client.write('anyone there?');
    expect(await outcome).toMatchObject({ data: Buffer.from('bye') });
    expect((await outcome).error).toMatch(/^(ECONNRESET|EPIPE)$/);
  });
});
