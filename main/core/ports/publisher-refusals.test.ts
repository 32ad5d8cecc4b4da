import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { MappingSpec } from '../../../common/ports/mapping';
import { apiRefusal } from '../../../test/support/refusal';
import type { PortRulesInForce } from './bind';
import type { PortPublisher } from './publisher';
import { publishersInProcess } from './publisher-fixture';
import { portIsFree, unusedPort } from './test-support';

// What a PortPublisher refuses to publish, in-process as root: what the
// organization's port rules forbid, bad input, and a mapping that forwards to
// itself. Each refusal says why in one sentence, and binds and saves nothing.

const scope = publishersInProcess();
const { open, httpTarget, savedFile } = scope;

describe('PortPublisher', () => {
  it("refuses a port the organization's port rules forbid, saying whose rule, and binds the ports they allow", async () => {
    const denied = unusedPort();
    const allowed = unusedPort();
    let rules: PortRulesInForce | null = { rules: { deny: [denied], wildcardAddresses: false }, source: 'Example Corp policy v4' };
    const { publisher } = await open({ portRules: () => rules });
    const target = { host: '127.0.0.1', port: await httpTarget('web') };
    await expect(publisher.add({ address: '127.0.0.1', port: denied, target })).rejects.toMatchObject({
      code: 'LOCKED',
      message: `127.0.0.1:${denied} is not allowed by Example Corp policy v4: port ${denied} is on its list of denied ports`,
    });
    expect(portIsFree('127.0.0.1', denied)).toBe(true);
    await expect(publisher.add({ address: '0.0.0.0', port: allowed, target })).rejects.toMatchObject({
      code: 'LOCKED',
      message: expect.stringContaining('every address'),
    });
    expect(portIsFree('0.0.0.0', allowed)).toBe(true);
    expect(await publisher.add({ address: '127.0.0.1', port: allowed, target })).toMatchObject({ state: 'listening' });
    expect((savedFile() as { mappings: unknown[] }).mappings).toHaveLength(1);
    rules = null;
    expect(await publisher.add({ address: '127.0.0.1', port: denied, target })).toMatchObject({ state: 'listening' });
  });

  describe('refuses bad input with one clear sentence, and saves nothing', () => {
    let publisher: PortPublisher;
    let port: number;
    let before: unknown;
    beforeEach(async () => {
      ({ publisher } = await open());
      port = unusedPort();
      await publisher.add({ address: '127.0.0.1', port, target: { host: 'localhost', port: 8080 } });
      before = savedFile();
    });
    afterEach(() => {
      expect(savedFile()).toEqual(before);
      expect(publisher.list().map((m) => m.id)).toEqual([`127.0.0.1:${port}`]);
    });

    it.each([
      ['port 0', { address: '127.0.0.1', port: 0, target: { host: 'localhost', port: 8080 } }, 'INVALID', 'port must be 1-65535 (got 0)'],
      ['port 70000', { address: '127.0.0.1', port: 70000, target: { host: 'localhost', port: 8080 } }, 'INVALID', 'port must be 1-65535 (got 70000)'],
      [
        'a hostname as the listen address',
        { address: 'localhost', port: 8081, target: { host: 'localhost', port: 8080 } },
        'INVALID',
        'localhost is not an IP address; use a literal address such as 127.0.0.1 (hostnames are not resolved for a listen address)',
      ],
      ['a bad target host', { address: '127.0.0.1', port: 8081, target: { host: 'no spaces', port: 80 } }, 'INVALID', 'the target host must be a hostname or an IP address (got "no spaces")'],
      ['target port 0', { address: '127.0.0.1', port: 8081, target: { host: 'localhost', port: 0 } }, 'INVALID', 'target port must be 1-65535 (got 0)'],
      ['an address not on this machine', { address: '10.9.9.9', port: 8081, target: { host: 'localhost', port: 80 } }, 'ADDRESS_UNAVAILABLE', '10.9.9.9 is not an address of this machine'],
    ])('%s', async (_what, spec, code, message) => {
      expect(await apiRefusal(publisher.add(spec as MappingSpec))).toMatchObject({ code, message });
    });

    it('a duplicate address and port', async () => {
      expect(await apiRefusal(publisher.add({ address: '127.0.0.1', port, target: { host: '127.0.0.1', port: 9999 } }))).toMatchObject({
        code: 'CONFLICT',
        message: `127.0.0.1:${port} is already published (to localhost:8080)`,
      });
    });

    it('a port another program uses', async () => {
      const busyPort = await scope.busyPort();
      expect(await apiRefusal(publisher.add({ address: '127.0.0.1', port: busyPort, target: { host: 'localhost', port: 80 } }))).toMatchObject({
        code: 'PORT_IN_USE',
        message: `127.0.0.1:${busyPort} is already in use by another program`,
      });
    });

    it('removing what is not published, or a bad key', async () => {
      expect(await apiRefusal(publisher.remove({ address: '127.0.0.1', port: port + 1 }))).toMatchObject({
        code: 'NOT_FOUND',
        message: `127.0.0.1:${port + 1} is not published`,
      });
      expect(await apiRefusal(publisher.remove({ address: 'localhost', port }))).toMatchObject({ code: 'INVALID', message: expect.stringContaining('localhost is not an IP address') });
    });
  });
});

describe('PortPublisher refuses a mapping that forwards to itself', () => {
  // Attack (issue 13): `ports add 8089=8089` plus one request made ~10,000
  // connections in 2 s, each accepted connection opening another to itself.
  it.each([
    ['the same address', '127.0.0.1', '127.0.0.1'],
    ['localhost for a loopback listener', '127.0.0.1', 'localhost'],
    ['LOCALHOST spelled in capitals', '127.0.0.1', 'LOCALHOST'],
    ['loopback for an any-address listener', '0.0.0.0', '127.0.0.1'],
    ['localhost for an any-address listener', '0.0.0.0', 'localhost'],
    ['0.0.0.0 itself', '0.0.0.0', '0.0.0.0'],
    ['::1 for an IPv6 any-address listener', '::', '::1'],
    ['127.0.0.1 for an IPv6 any-address listener', '::', '127.0.0.1'],
    ['another 127/8 address for an any-address listener', '0.0.0.0', '127.0.0.2'],
  ])('%s: INVALID, nothing bound, nothing saved', async (_name, address, host) => {
    const { publisher } = await open();
    const port = unusedPort();
    const error = await apiRefusal(publisher.add({ address, port, target: { host, port } }));
    expect(error.code).toBe('INVALID');
    expect(error.message).toMatch(/forwards to itself/);
    expect(error.message).toMatch(/different target port/);
    expect(publisher.list()).toEqual([]);
    expect(savedFile()).toBeUndefined();
    expect(portIsFree(address, port)).toBe(true);
  });

  it('still publishes the same port on another loopback address (127.0.0.2 is not 127.0.0.1)', async () => {
    const { publisher } = await open();
    const port = unusedPort();
    const status = await publisher.add({ address: '127.0.0.2', port, target: { host: '127.0.0.1', port } });
    expect(status.state).toBe('listening');
  });
});
