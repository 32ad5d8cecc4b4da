import { chmodSync, closeSync, mkdirSync, mkdtempSync, openSync, readdirSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { sendMessage } from '../../native';
import { encodeFrame, FrameDecoder } from '../../common/protocol';
import { socketFd } from '../../helper/daemon/socket-fd';
import { finished, firstLine, makeStaleSocket, spawnFixtureAs } from '../../test/support/processes';
import { HelperClient } from './client';
import { HelperProtocolError, HelperUnavailableError } from './errors';

const users = inject('users');
let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'berth-client-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/**
 * A root-owned peer that misbehaves in one chosen way. It is not a stand-in
 * for the helper: the real helper is tested in helper/; this is the broken or
 * hostile helper the client must survive.
 */
function rogueHelper(onRequest: (socket: Socket, body: Buffer) => void): Promise<Server> {
  const server = createServer((socket) => {
    const decoder = new FrameDecoder();
    socket.on('data', (chunk: Buffer) => decoder.push(chunk).forEach((body) => onRequest(socket, body)));
    socket.on('error', () => {});
  });
  return new Promise((resolve) => server.listen(join(dir, 'rogue.sock'), () => resolve(server)));
}

const ownFds = (): number => readdirSync('/proc/self/fd').length;

describe('helper client', () => {
  it('says "not installed" when there is no socket', async () => {
    await expect(HelperClient.connect(join(dir, 'missing.sock'))).rejects.toMatchObject({
      name: 'HelperUnavailableError',
      reason: 'not-installed',
      message: expect.stringContaining('not installed'),
    });
  });

  it('says "not running" when nothing listens on the socket', async () => {
    makeStaleSocket(join(dir, 'stale.sock'));
    await expect(HelperClient.connect(join(dir, 'stale.sock'))).rejects.toMatchObject({ reason: 'not-running' });
  });

  it('refuses a socket served by anyone but root, before sending a byte', async () => {
    // A directory the unprivileged squatter can create its socket in.
    const open = join(dir, 'open');
    mkdirSync(open);
    chmodSync(dir, 0o755);
    chmodSync(open, 0o777);
    const squatter = spawnFixtureAs(users.test, 'helper-client', ['squat', join(open, 'squat.sock')]);
    const done = finished(squatter);
    await firstLine(squatter);
    const error = await HelperClient.connect(join(open, 'squat.sock')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HelperUnavailableError);
    expect(error).toMatchObject({ reason: 'impostor', message: expect.stringContaining(`uid ${users.test.uid}, not root`) });
    squatter.kill('SIGTERM');
    const lines = (await done).stdout.trim().split('\n');
    expect(JSON.parse(lines[lines.length - 1]!)).toEqual({ received: 0 });
  });

  it('gives up on a helper that does not answer in time', async () => {
    const server = await rogueHelper(() => {});
    await expect(HelperClient.connect(join(dir, 'rogue.sock'), { requestTimeoutMs: 200 })).rejects.toMatchObject({
      name: 'HelperProtocolError',
      message: expect.stringContaining('did not answer hello within 200 ms'),
    });
    server.close();
  });

  it('refuses a malformed reply', async () => {
    const server = await rogueHelper((socket) => socket.write(encodeFrame({ id: 1, ok: true, result: { protocol: 'one' } })));
    await expect(HelperClient.connect(join(dir, 'rogue.sock'))).rejects.toBeInstanceOf(HelperProtocolError);
    server.close();
  });

  it('closes fds that arrive on a reply that should carry none', async () => {
    const before = ownFds();
    const server = await rogueHelper((socket, body) => {
      const { id } = JSON.parse(body.toString()) as { id: number };
      const files = [openSync('/dev/null', 'r'), openSync('/dev/null', 'r')];
      sendMessage(socketFd(socket), encodeFrame({ id, ok: true, result: { protocol: 1, helperVersion: '9.9.9', capabilities: [] } }), files);
      files.forEach((fd) => closeSync(fd));
    });
    const client = await HelperClient.connect(join(dir, 'rogue.sock'));
    expect(client.info.helperVersion).toBe('9.9.9');
    client.close();
    server.close();
    expect(ownFds()).toBe(before);
  });

  it('refuses a bindPort reply without a socket', async () => {
    const server = await rogueHelper((socket, body) => {
      const { id, op } = JSON.parse(body.toString()) as { id: number; op: string };
      const result =
        op === 'hello'
          ? { protocol: 1, helperVersion: '9.9.9', capabilities: ['bindPort'] }
          : { address: '127.0.0.1', port: 80, protocol: 'tcp' };
      socket.write(encodeFrame({ id, ok: true, result }));
    });
    const client = await HelperClient.connect(join(dir, 'rogue.sock'));
    await expect(client.bindPort({ address: '127.0.0.1', port: 80, protocol: 'tcp' })).rejects.toMatchObject({
      name: 'HelperProtocolError',
      message: expect.stringContaining('did not pass a socket'),
    });
    client.close();
    server.close();
  });
});
