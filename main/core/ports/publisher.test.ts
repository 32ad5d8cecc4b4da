import { closeSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { bindSocket } from '../../../native';
import { ApiError } from '../../../common/api/backend-api';
import { mappingStatus, type MappingSpec, type MappingStatus } from '../../../common/ports/mapping';
import type { HelperSource, PortRulesInForce } from './bind';
import { PortPublisher, type PortPublisherOptions } from './publisher';
import { httpGet, unusedPort } from './test-support';

// In-process, as root: every bind here is direct (ports ≥ 1024 in the suite's
// namespace). The helper, the unprivileged user and port 80 are in
// publisher-helper.test.ts.

let dir: string;
let mappingsPath: string;
const cleanups: Array<() => unknown> = [];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'berth-publisher-'));
  mappingsPath = join(dir, 'config', 'mappings.json');
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  rmSync(dir, { recursive: true, force: true });
});

const noHelper: HelperSource = async () => undefined;

/** A publisher whose onChange wakes `until(pred)`: tests wait on state, never on time. */
async function openPublisher(overrides: Partial<PortPublisherOptions> = {}): Promise<{
  publisher: PortPublisher;
  notice: string | undefined;
  changes: () => number;
  until(pred: (list: MappingStatus[]) => boolean): Promise<MappingStatus[]>;
}> {
  let changes = 0;
  const waiters = new Set<() => void>();
  const opened = await PortPublisher.open({
    mappingsPath,
    helper: noHelper,
    privilegedPortMapping: () => true,
    onChange: () => {
      changes++;
      for (const wake of [...waiters]) wake();
    },
    statsIntervalMs: 20,
    ...overrides,
  });
  cleanups.push(() => opened.publisher.close());
  const until = (pred: (list: MappingStatus[]) => boolean): Promise<MappingStatus[]> =>
    new Promise((resolve) => {
      const check = (): void => {
        const list = opened.publisher.list();
        if (pred(list)) {
          waiters.delete(check);
          resolve(list);
        }
      };
      waiters.add(check);
      check();
    });
  return { publisher: opened.publisher, notice: opened.notice, changes: () => changes, until };
}

/** An HTTP target that says which one it is. */
async function httpTarget(name: string, port = 0): Promise<number> {
  const server = http.createServer((_req, res) => res.end(`hello from ${name}`));
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port }, resolve));
  cleanups.push(() => new Promise((resolve) => server.close(resolve)));
  return (server.address() as net.AddressInfo).port;
}

function savedFile(): unknown {
  return existsSync(mappingsPath) ? JSON.parse(readFileSync(mappingsPath, 'utf8')) : undefined;
}

async function refusal(promise: Promise<unknown>): Promise<ApiError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof ApiError)) throw new Error(`expected an ApiError, got ${String(error)}`);
  return error;
}

/** Can the port be bound right now? (Proves a removed mapping let it go.) */
function portIsFree(address: string, port: number): boolean {
  try {
    closeSync(bindSocket(address, port, 'tcp', 1));
    return true;
  } catch {
    return false;
  }
}

describe('PortPublisher', () => {
  it('publishes a port, forwards real HTTP, saves it, and frees the port on remove', async () => {
    const targetPort = await httpTarget('web');
    const { publisher, changes } = await openPublisher();
    const port = unusedPort();
    const spec: MappingSpec = { address: '127.0.0.1', port, target: { host: '127.0.0.1', port: targetPort } };
    const status = await publisher.add(spec);
    expect(status).toEqual({
      id: `127.0.0.1:${port}`,
      spec,
      state: 'listening',
      via: 'direct',
      error: null,
      retry: null,
      connections: { active: 0, total: 0, failed: 0 },
      bytes: { in: 0, out: 0 },
      lastTargetError: null,
      acceptError: null,
    });
    expect(changes()).toBeGreaterThan(0);
    expect(await httpGet(`http://127.0.0.1:${port}/`)).toEqual({ status: 200, body: 'hello from web' });
    expect(savedFile()).toEqual({ version: 1, mappings: [spec] });
    expect(publisher.list()).toHaveLength(1);
    // What the backend API will carry: every status passes the shared schema.
    expect(mappingStatus.array().safeParse(publisher.list()).success).toBe(true);

    await publisher.remove({ address: '127.0.0.1', port });
    expect(publisher.list()).toEqual([]);
    expect(savedFile()).toEqual({ version: 1, mappings: [] });
    expect(portIsFree('127.0.0.1', port)).toBe(true);
  });

  it("refuses a port the organization's port rules forbid, saying whose rule, and binds the ports they allow", async () => {
    const denied = unusedPort();
    const allowed = unusedPort();
    let rules: PortRulesInForce | null = { rules: { deny: [denied], wildcardAddresses: false }, source: 'Example Corp policy v4' };
    const { publisher } = await openPublisher({ portRules: () => rules });
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

  it('reports connections and bytes through onChange as they happen', async () => {
    const targetPort = await httpTarget('counted');
    const { publisher, until } = await openPublisher();
    const port = unusedPort();
    await publisher.add({ address: '127.0.0.1', port, target: { host: '127.0.0.1', port: targetPort } });
    expect((await httpGet(`http://127.0.0.1:${port}/`)).body).toBe('hello from counted');
    const [status] = await until((list) => list[0]!.connections.total === 1 && list[0]!.connections.active === 0 && list[0]!.bytes.out > 0);
    expect(status!.bytes.in).toBeGreaterThan(0);
    expect(status!.bytes.out).toBeGreaterThanOrEqual('hello from counted'.length);
  });

  it('keeps a mapping whose target is down listening, says why, and leaves the others alone', async () => {
    const upPort = await httpTarget('up');
    const downPort = unusedPort();
    const { publisher, until } = await openPublisher();
    const downListen = unusedPort();
    const upListen = unusedPort();
    await publisher.add({ address: '127.0.0.1', port: downListen, target: { host: '127.0.0.1', port: downPort } });
    await publisher.add({ address: '127.0.0.1', port: upListen, target: { host: '127.0.0.1', port: upPort } });
    expect((await httpGet(`http://127.0.0.1:${downListen}/`)).error).toMatch(/ECONNRESET|socket hang up/);
    const list = await until((l) => l[0]!.lastTargetError !== null);
    expect(list[0]).toMatchObject({
      state: 'listening',
      error: null,
      lastTargetError: `nothing is listening on 127.0.0.1:${downPort}`,
      connections: { failed: 1 },
    });
    expect(list[1]).toMatchObject({ state: 'listening', lastTargetError: null });
    expect(await httpGet(`http://127.0.0.1:${upListen}/`)).toEqual({ status: 200, body: 'hello from up' });
    // The broken one still accepts (and fails) connections: its listener kept running.
    expect((await httpGet(`http://127.0.0.1:${downListen}/`)).error).toBeDefined();
    await until((l) => l[0]!.connections.failed === 2);
  });

  it("a target that is back: the mapping no longer shows the old failure (the list the app gets says so)", async () => {
    const downPort = unusedPort();
    const { publisher, until } = await openPublisher();
    const listen = unusedPort();
    await publisher.add({ address: '127.0.0.1', port: listen, target: { host: '127.0.0.1', port: downPort } });
    expect((await httpGet(`http://127.0.0.1:${listen}/`)).error).toBeDefined();
    await until((l) => l[0]!.lastTargetError === `nothing is listening on 127.0.0.1:${downPort}`);
    await httpTarget('back', downPort);
    expect(await httpGet(`http://127.0.0.1:${listen}/`)).toEqual({ status: 200, body: 'hello from back' });
    const [status] = await until((l) => l[0]!.lastTargetError === null);
    expect(status).toMatchObject({ state: 'listening', error: null, connections: { failed: 1 } });
  });

  describe('refuses bad input with one clear sentence, and saves nothing', () => {
    let publisher: PortPublisher;
    let port: number;
    let before: unknown;
    beforeEach(async () => {
      ({ publisher } = await openPublisher());
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
      expect(await refusal(publisher.add(spec as MappingSpec))).toMatchObject({ code, message });
    });

    it('a duplicate address and port', async () => {
      expect(await refusal(publisher.add({ address: '127.0.0.1', port, target: { host: '127.0.0.1', port: 9999 } }))).toMatchObject({
        code: 'CONFLICT',
        message: `127.0.0.1:${port} is already published (to localhost:8080)`,
      });
    });

    it('a port another program uses', async () => {
      const busy = net.createServer();
      await new Promise<void>((resolve) => busy.listen({ host: '127.0.0.1', port: 0 }, resolve));
      cleanups.push(() => new Promise((resolve) => busy.close(resolve)));
      const busyPort = (busy.address() as net.AddressInfo).port;
      expect(await refusal(publisher.add({ address: '127.0.0.1', port: busyPort, target: { host: 'localhost', port: 80 } }))).toMatchObject({
        code: 'PORT_IN_USE',
        message: `127.0.0.1:${busyPort} is already in use by another program`,
      });
    });

    it('removing what is not published, or a bad key', async () => {
      expect(await refusal(publisher.remove({ address: '127.0.0.1', port: port + 1 }))).toMatchObject({
        code: 'NOT_FOUND',
        message: `127.0.0.1:${port + 1} is not published`,
      });
      expect(await refusal(publisher.remove({ address: 'localhost', port }))).toMatchObject({ code: 'INVALID', message: expect.stringContaining('localhost is not an IP address') });
    });
  });

  it('two adds of one port at once: one wins, the other is a CONFLICT', async () => {
    const { publisher } = await openPublisher();
    const port = unusedPort();
    const spec: MappingSpec = { address: '127.0.0.1', port, target: { host: 'localhost', port: 1 } };
    const results = await Promise.allSettled([publisher.add(spec), publisher.add(spec)]);
    expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
    expect(results.find((r) => r.status === 'rejected')).toMatchObject({ reason: { code: 'CONFLICT' } });
    expect(savedFile()).toEqual({ version: 1, mappings: [spec] });
  });

  it('treats two spellings of one IPv6 address as one mapping', async () => {
    const { publisher } = await openPublisher();
    const port = unusedPort('::1');
    const target = { host: 'localhost', port: 1 };
    expect(await publisher.add({ address: '0:0:0:0:0:0:0:1', port, target })).toMatchObject({ id: `[::1]:${port}`, spec: { address: '::1' }, state: 'listening' });
    expect(await refusal(publisher.add({ address: '::1', port, target: { host: '::1', port: 2 } }))).toMatchObject({
      code: 'CONFLICT',
      message: `[::1]:${port} is already published (to localhost:1)`,
    });
    expect(savedFile()).toEqual({ version: 1, mappings: [{ address: '::1', port, target }] });
    await publisher.remove({ address: '0::1', port });
    expect(publisher.list()).toEqual([]);
    expect(portIsFree('::1', port)).toBe(true);
  });

  it('a mapping removed while it is still starting is never published, and its port is let go', async () => {
    const { publisher } = await openPublisher();
    const port = unusedPort();
    const adding = publisher.add({ address: '127.0.0.1', port, target: { host: 'localhost', port: 1 } });
    expect(publisher.list()).toMatchObject([{ state: 'starting' }]);
    await publisher.remove({ address: '127.0.0.1', port });
    expect(await refusal(adding)).toMatchObject({ code: 'CONFLICT', message: `127.0.0.1:${port} was removed while it was starting` });
    expect(publisher.list()).toEqual([]);
    expect(savedFile()).toBeUndefined();
    expect(portIsFree('127.0.0.1', port)).toBe(true);
  });

  it('does not publish what it cannot save: the port is let go and nothing changes', async () => {
    // The config directory is a dangling symlink: loading finds nothing, saving must refuse.
    symlinkSync(join(dir, 'nowhere'), join(dir, 'config'));
    const { publisher } = await openPublisher();
    const port = unusedPort();
    const error = await refusal(publisher.add({ address: '127.0.0.1', port, target: { host: 'localhost', port: 1 } }));
    expect(error.code).toBe('FAILED');
    expect(error.message).toMatch(new RegExp(`^the port mappings could not be saved \\(.+\\), so 127\\.0\\.0\\.1:${port} was not published$`));
    expect(publisher.list()).toEqual([]);
    expect(portIsFree('127.0.0.1', port)).toBe(true);
    expect(existsSync(join(dir, 'nowhere'))).toBe(false);
  });

  it('brings saved mappings back on open, and shows the ones that cannot start yet without dropping them', async () => {
    const targetPort = await httpTarget('restored');
    const port = unusedPort();
    const busy = net.createServer();
    await new Promise<void>((resolve) => busy.listen({ host: '127.0.0.1', port: 0 }, resolve));
    cleanups.push(() => new Promise((resolve) => busy.close(resolve)));
    const busyPort = (busy.address() as net.AddressInfo).port;
    const specs: MappingSpec[] = [
      { address: '127.0.0.1', port, target: { host: '127.0.0.1', port: targetPort } },
      { address: '127.0.0.1', port: busyPort, target: { host: '127.0.0.1', port: targetPort } },
    ];
    mkdirSync(join(dir, 'config'), { mode: 0o700 });
    writeFileSync(mappingsPath, JSON.stringify({ version: 1, mappings: specs }));
    const { publisher, notice } = await openPublisher();
    expect(notice).toBeUndefined();
    const [first, second] = publisher.list();
    expect(first).toMatchObject({ state: 'listening', via: 'direct' });
    // Taken by another program: it waits, and is tried again by itself (publisher-retry.test.ts).
    expect(second).toMatchObject({
      state: 'waiting',
      error: { code: 'PORT_IN_USE', message: `127.0.0.1:${busyPort} is already in use by another program` },
      retry: { at: expect.any(String), onAddressChange: false },
    });
    expect(await httpGet(`http://127.0.0.1:${port}/`)).toEqual({ status: 200, body: 'hello from restored' });
    expect(savedFile()).toEqual({ version: 1, mappings: specs });
    // The broken one can be removed like any other.
    await publisher.remove({ address: '127.0.0.1', port: busyPort });
    expect(savedFile()).toEqual({ version: 1, mappings: [specs[0]] });
  });

  it('starts empty from a corrupt mappings file, keeps it aside and says so', async () => {
    mkdirSync(join(dir, 'config'), { mode: 0o700 });
    writeFileSync(mappingsPath, '{"version":1,"mappings":[{"address":"127.0.0.1"');
    const { publisher, notice } = await openPublisher({ now: () => new Date('2025-01-02T03:04:05.006Z') });
    expect(publisher.list()).toEqual([]);
    expect(notice).toBe(
      'Your saved port mappings could not be read (it is not valid JSON), so Berth started with none; the file was kept as mappings.json.corrupt-2025-01-02T03-04-05-006Z.',
    );
    expect(readdirSync(join(dir, 'config'))).toEqual(['mappings.json.corrupt-2025-01-02T03-04-05-006Z']);
  });

  it('close() stops every listener but keeps the mappings saved', async () => {
    const { publisher } = await openPublisher();
    const port = unusedPort();
    const spec: MappingSpec = { address: '127.0.0.1', port, target: { host: 'localhost', port: 1 } };
    await publisher.add(spec);
    await publisher.close();
    expect(portIsFree('127.0.0.1', port)).toBe(true);
    expect(savedFile()).toEqual({ version: 1, mappings: [spec] });
    expect(await refusal(publisher.add({ ...spec, port: port + 1 }))).toMatchObject({ code: 'FAILED', message: 'port publishing has stopped' });
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
    const { publisher } = await openPublisher();
    const port = unusedPort();
    const error = await refusal(publisher.add({ address, port, target: { host, port } }));
    expect(error.code).toBe('INVALID');
    expect(error.message).toMatch(/forwards to itself/);
    expect(error.message).toMatch(/different target port/);
    expect(publisher.list()).toEqual([]);
    expect(savedFile()).toBeUndefined();
    expect(portIsFree(address, port)).toBe(true);
  });

  it('still publishes the same port on another loopback address (127.0.0.2 is not 127.0.0.1)', async () => {
    const { publisher } = await openPublisher();
    const port = unusedPort();
    const status = await publisher.add({ address: '127.0.0.2', port, target: { host: '127.0.0.1', port } });
    expect(status.state).toBe('listening');
  });
});

describe('PortPublisher restoring a self-forwarding mapping from the file', () => {
  it('shows it as an error and does not bind it', async () => {
    const port = unusedPort();
    mkdirSync(join(dir, 'config'), { recursive: true });
    writeFileSync(mappingsPath, JSON.stringify({ version: 1, mappings: [{ address: '127.0.0.1', port, target: { host: 'localhost', port } }] }));
    const { publisher } = await openPublisher();
    const [status] = publisher.list();
    expect(status).toMatchObject({ state: 'error', via: null, error: { code: 'INVALID' }, retry: null });
    expect(status!.error!.message).toMatch(/forwards to itself/);
    expect(portIsFree('127.0.0.1', port)).toBe(true);
  });
});
