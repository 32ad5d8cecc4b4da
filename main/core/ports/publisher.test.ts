import { describe, expect, it } from 'vitest';
import { mappingStatus, type MappingSpec } from '../../../common/ports/mapping';
import { apiRefusal } from '../../../test/support/refusal';
import { publishersInProcess } from './publisher-fixture';
import { httpGet, portIsFree, unusedPort } from './test-support';

// In-process, as root: every bind here is direct (ports ≥ 1024 in the suite's
// namespace). What a publisher refuses is in publisher-refusals.test.ts, the
// saved mappings file in publisher-saved.test.ts; the helper, the unprivileged
// user and port 80 in publisher-helper.test.ts.

const scope = publishersInProcess();
const { open, httpTarget, savedFile } = scope;

describe('PortPublisher', () => {
  it('publishes a port, forwards real HTTP, saves it, and frees the port on remove', async () => {
    const targetPort = await httpTarget('web');
    const { publisher, changes } = await open();
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

  it('reports connections and bytes through onChange as they happen', async () => {
    const targetPort = await httpTarget('counted');
    const { publisher, until } = await open();
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
    const { publisher, until } = await open();
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
    const { publisher, until } = await open();
    const listen = unusedPort();
    await publisher.add({ address: '127.0.0.1', port: listen, target: { host: '127.0.0.1', port: downPort } });
    expect((await httpGet(`http://127.0.0.1:${listen}/`)).error).toBeDefined();
    await until((l) => l[0]!.lastTargetError === `nothing is listening on 127.0.0.1:${downPort}`);
    await httpTarget('back', downPort);
    expect(await httpGet(`http://127.0.0.1:${listen}/`)).toEqual({ status: 200, body: 'hello from back' });
    const [status] = await until((l) => l[0]!.lastTargetError === null);
    expect(status).toMatchObject({ state: 'listening', error: null, connections: { failed: 1 } });
  });

  it('two adds of one port at once: one wins, the other is a CONFLICT', async () => {
    const { publisher } = await open();
    const port = unusedPort();
    const spec: MappingSpec = { address: '127.0.0.1', port, target: { host: 'localhost', port: 1 } };
    const results = await Promise.allSettled([publisher.add(spec), publisher.add(spec)]);
    expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
    expect(results.find((r) => r.status === 'rejected')).toMatchObject({ reason: { code: 'CONFLICT' } });
    expect(savedFile()).toEqual({ version: 1, mappings: [spec] });
  });

  it('treats two spellings of one IPv6 address as one mapping', async () => {
    const { publisher } = await open();
    const port = unusedPort('::1');
    const target = { host: 'localhost', port: 1 };
    expect(await publisher.add({ address: '0:0:0:0:0:0:0:1', port, target })).toMatchObject({ id: `[::1]:${port}`, spec: { address: '::1' }, state: 'listening' });
    expect(await apiRefusal(publisher.add({ address: '::1', port, target: { host: '::1', port: 2 } }))).toMatchObject({
      code: 'CONFLICT',
      message: `[::1]:${port} is already published (to localhost:1)`,
    });
    expect(savedFile()).toEqual({ version: 1, mappings: [{ address: '::1', port, target }] });
    await publisher.remove({ address: '0::1', port });
    expect(publisher.list()).toEqual([]);
    expect(portIsFree('::1', port)).toBe(true);
  });

  it('a mapping removed while it is still starting is never published, and its port is let go', async () => {
    const { publisher } = await open();
    const port = unusedPort();
    const adding = publisher.add({ address: '127.0.0.1', port, target: { host: 'localhost', port: 1 } });
    expect(publisher.list()).toMatchObject([{ state: 'starting' }]);
    await publisher.remove({ address: '127.0.0.1', port });
    expect(await apiRefusal(adding)).toMatchObject({ code: 'CONFLICT', message: `127.0.0.1:${port} was removed while it was starting` });
    expect(publisher.list()).toEqual([]);
    expect(savedFile()).toBeUndefined();
    expect(portIsFree('127.0.0.1', port)).toBe(true);
  });

  it('close() stops every listener but keeps the mappings saved', async () => {
    const { publisher } = await open();
    const port = unusedPort();
    const spec: MappingSpec = { address: '127.0.0.1', port, target: { host: 'localhost', port: 1 } };
    await publisher.add(spec);
    await publisher.close();
    expect(portIsFree('127.0.0.1', port)).toBe(true);
    expect(savedFile()).toEqual({ version: 1, mappings: [spec] });
    expect(await apiRefusal(publisher.add({ ...spec, port: port + 1 }))).toMatchObject({ code: 'FAILED', message: 'port publishing has stopped' });
  });
});
