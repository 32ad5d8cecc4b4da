import { closeSync, fstatSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeFrame } from '../../../common/protocol';
import { makeStaleSocket } from '../../../test/support/processes';
import { apiRefusal } from '../../../test/support/refusal';
import { acquireListener, helperAt, type HelperSource } from './bind';
import { unusedPort } from './test-support';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A helper source that must not be asked: a direct bind never needs the helper. */
function untouchedHelper(): { source: HelperSource; asked: () => number } {
  let asked = 0;
  return {
    source: async () => {
      asked++;
      return undefined;
    },
    asked: () => asked,
  };
}

// These run as root, where every bind is direct; the helper paths run as the
// unprivileged user in publisher-helper.test.ts and run-command.test.ts.
describe('acquireListener, direct', () => {
  it.each(['127.0.0.1', '::1'])('binds %s itself, without asking the helper', async (address) => {
    const helper = untouchedHelper();
    const port = unusedPort(address);
    const listener = await acquireListener({ address, port }, { helper: helper.source, privilegedPortMapping: true });
    try {
      expect(listener.via).toBe('direct');
      expect(fstatSync(listener.fd).isSocket()).toBe(true);
      expect(helper.asked()).toBe(0);
      // It listens: a connection is accepted by the kernel's backlog.
      await new Promise<void>((resolve, reject) => net.connect({ host: address, port }, resolve).on('error', reject).unref());
    } finally {
      closeSync(listener.fd);
    }
  });

  it('says the port is in use, and by whom it is not', async () => {
    const helper = untouchedHelper();
    const busy = net.createServer();
    await new Promise<void>((resolve) => busy.listen({ host: '127.0.0.1', port: 0 }, resolve));
    cleanups.push(() => new Promise((resolve) => busy.close(resolve)));
    const { port } = busy.address() as net.AddressInfo;
    const error = await apiRefusal(acquireListener({ address: '127.0.0.1', port }, { helper: helper.source, privilegedPortMapping: true }));
    expect(error).toMatchObject({ code: 'PORT_IN_USE', message: `127.0.0.1:${port} is already in use by another program` });
    expect(helper.asked()).toBe(0);
  });

  it('says an address is not one of this machine', async () => {
    const helper = untouchedHelper();
    const error = await apiRefusal(acquireListener({ address: '10.9.9.9', port: 8080 }, { helper: helper.source, privilegedPortMapping: true }));
    expect(error).toMatchObject({ code: 'ADDRESS_UNAVAILABLE', message: '10.9.9.9 is not an address of this machine' });
    expect(helper.asked()).toBe(0);
  });

  it.each([
    [{ address: 'localhost', port: 80 }],
    [{ address: '127.0.0.1', port: 0 }],
    [{ address: '127.0.0.1', port: 70000 }],
    [{ address: 'fe80::1%lo', port: 80 }],
  ])('refuses %j before any bind', async (key) => {
    const helper = untouchedHelper();
    const error = await apiRefusal(acquireListener(key, { helper: helper.source, privilegedPortMapping: true }));
    expect(error.code).toBe('INVALID');
    expect(helper.asked()).toBe(0);
  });
});

describe('helperAt', () => {
  it('means "no helper for now" when it is not installed or not running, and throws for anything else', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-bind-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    expect(await helperAt(join(dir, 'missing.sock'))()).toBeUndefined();
    makeStaleSocket(join(dir, 'stale.sock'));
    expect(await helperAt(join(dir, 'stale.sock'))()).toBeUndefined();
    // Something answers, but not as a helper: that is not "come back later", it is an error to show.
    const rogue = net.createServer((socket) => socket.on('data', () => socket.end(encodeFrame({ id: 1, ok: true, result: { protocol: 'x' } }))));
    await new Promise<void>((resolve) => rogue.listen(join(dir, 'rogue.sock'), resolve));
    cleanups.push(() => new Promise((resolve) => rogue.close(resolve)));
    await expect(helperAt(join(dir, 'rogue.sock'))()).rejects.toMatchObject({ name: 'HelperProtocolError' });
  });
});
