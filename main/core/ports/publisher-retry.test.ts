import { closeSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { openFdCount } from '../../../native/test-helpers';
import type { MappingSpec, MappingStatus } from '../../../common/ports/mapping';
import { problemText } from '../../../common/ports/waiting';
import type { PortRulesInForce } from './bind';
import { PortPublisher, type PortPublisherOptions } from './publisher';
import {
  httpGet,
  listeningFd,
  NetNamespace,
  netlinkSocketCount,
  portIsFree,
  PublisherFixture,
  serveTarget,
  unusedPort,
  userScratch,
  writeSavedMappings,
} from './test-support';

// A saved mapping that could not start (port taken, address not up yet) is
// tried again by itself. The first block runs the real PortPublisher as the
// unprivileged berth-test in a network namespace of its own, with real other
// programs and real addresses (`ip` as root inside); the second runs it in
// this process (root, the suite's namespace) where descriptors can be counted.
// Nothing here measures time: tests wait for states and events.

const users = inject('users');
const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A line predicate that holds once mapping `id` has been tried `times` times (each failed try moves its retry time). */
function retriedTimes(id: string, times: number): (line: Record<string, unknown>) => boolean {
  const seen = new Set<string>();
  return (line) => {
    const status = ((line.list ?? []) as MappingStatus[]).find((s) => s.id === id);
    if (line.event === 'change' && status?.retry) seen.add(status.retry.at);
    return seen.size >= times;
  };
}

describe('as the user, with real programs and addresses', () => {
  let ns: NetNamespace;
  let scratch: { dir: string; remove(): void };
  let target: { port: number; stop(): Promise<void> };
  beforeEach(async () => {
    ns = await NetNamespace.create();
    scratch = userScratch(users.test);
    target = await serveTarget(ns, '127.0.0.1');
    cleanups.push(() => ns.close(), () => scratch.remove(), () => target.stop());
  });

  const to = (): MappingSpec['target'] => ({ host: '127.0.0.1', port: target.port });

  async function openWith(specs: MappingSpec[], options: Record<string, unknown>): Promise<{ fixture: PublisherFixture; list: MappingStatus[] }> {
    const mappingsPath = writeSavedMappings(scratch.dir, users.test, specs);
    const fixture = PublisherFixture.start(users.test, ns);
    cleanups.push(() => fixture.stop());
    const opened = await fixture.call('open', { mappingsPath, helperSocket: join(scratch.dir, 'no-helper', 'helper.sock'), ...options });
    return { fixture, list: opened.list as MappingStatus[] };
  }

  it('a port another program holds at start: waits, says why and when, and comes up by itself once it is freed', async () => {
    const squatter = await serveTarget(ns, '127.0.0.1', 18080);
    const { fixture, list } = await openWith([{ address: '127.0.0.1', port: 18080, target: to() }], { retryBaseMs: 100, retryCapMs: 400 });
    expect(list[0]).toMatchObject({
      state: 'waiting',
      via: null,
      error: { code: 'PORT_IN_USE', message: '127.0.0.1:18080 is already in use by another program' },
      retry: { onAddressChange: false },
    });
    expect(problemText(list[0]!, Date.parse(list[0]!.retry!.at) - 8_000)).toBe('127.0.0.1:18080 is already in use by another program; trying again in 8 s');
    await fixture.out.next(retriedTimes('127.0.0.1:18080', 2)); // still taken: tried again, and again

    const mark = fixture.mark;
    await squatter.stop();
    const [up] = await fixture.changedAfter(mark, (l) => l[0]?.state === 'listening');
    expect(up).toMatchObject({ state: 'listening', via: 'direct', error: null, retry: null });
    expect(await httpGet('http://127.0.0.1:18080/', ns)).toEqual({ status: 200, body: `target 127.0.0.1:${target.port}` });
  });

  it('an address not there at start comes up as soon as it is added: the OS says so (the 10-minute back-off would not)', async () => {
    const { fixture, list } = await openWith([{ address: '10.88.0.1', port: 8080, target: to() }], { retryBaseMs: 600_000 });
    expect(list[0]).toMatchObject({
      state: 'waiting',
      error: { code: 'ADDRESS_UNAVAILABLE', message: '10.88.0.1 is not an address of this machine' },
      retry: { onAddressChange: true },
    });
    expect(problemText(list[0]!, Date.parse(list[0]!.retry!.at) - 600_000)).toBe(
      "10.88.0.1 is not an address of this machine; trying again as soon as this machine's addresses change, or in 10 min",
    );
    expect(netlinkSocketCount(fixture.pid)).toBe(1); // the watch, open while something waits for an address

    const mark = fixture.mark;
    // What docker0 does at login: a bridge appears, then its address.
    ns.run('ip', 'link', 'add', 'br-berth0', 'type', 'bridge');
    ns.run('ip', 'link', 'set', 'br-berth0', 'up');
    ns.run('ip', 'addr', 'add', '10.88.0.1/24', 'dev', 'br-berth0');
    const [up] = await fixture.changedAfter(mark, (l) => l[0]?.state === 'listening');
    expect(up).toMatchObject({ state: 'listening', via: 'direct', error: null, retry: null });
    expect(await httpGet('http://10.88.0.1:8080/', ns)).toEqual({ status: 200, body: `target 127.0.0.1:${target.port}` });
    expect(netlinkSocketCount(fixture.pid)).toBe(0); // nothing waits: no watch
  });

  it('IPv6 turned off at start: ::1 comes up when it is turned on again', async () => {
    ns.run('sysctl', '-qw', 'net.ipv6.conf.lo.disable_ipv6=1');
    const { fixture, list } = await openWith([{ address: '::1', port: 8080, target: to() }], { retryBaseMs: 600_000 });
    expect(list[0]).toMatchObject({ state: 'waiting', error: { code: 'ADDRESS_UNAVAILABLE' }, retry: { onAddressChange: true } });
    const mark = fixture.mark;
    ns.run('sysctl', '-qw', 'net.ipv6.conf.lo.disable_ipv6=0');
    await fixture.changedAfter(mark, (l) => l[0]?.state === 'listening');
    expect(await httpGet('http://[::1]:8080/', ns)).toEqual({ status: 200, body: `target 127.0.0.1:${target.port}` });
  });

  it('without the OS watch (it could not be opened), the back-off alone still brings the address up', async () => {
    const { fixture, list } = await openWith([{ address: '10.88.2.1', port: 8080, target: to() }], { retryBaseMs: 100, retryCapMs: 400, addressWatch: false });
    expect(list[0]).toMatchObject({ state: 'waiting', error: { code: 'ADDRESS_UNAVAILABLE' }, retry: { onAddressChange: false } });
    expect(problemText(list[0]!, Date.parse(list[0]!.retry!.at) - 1_000)).toBe('10.88.2.1 is not an address of this machine; trying again in 1 s');
    expect(netlinkSocketCount(fixture.pid)).toBe(0);
    const mark = fixture.mark;
    ns.run('ip', 'addr', 'add', '10.88.2.1/32', 'dev', 'lo');
    await fixture.changedAfter(mark, (l) => l[0]?.state === 'listening');
    expect(await httpGet('http://10.88.2.1:8080/', ns)).toEqual({ status: 200, body: `target 127.0.0.1:${target.port}` });
  });

  it('a removed mapping is never tried again: its watch closes, and its address and port, once there, stay free', async () => {
    const squatter = await serveTarget(ns, '127.0.0.1', 18081);
    cleanups.push(() => squatter.stop());
    const gone: MappingSpec = { address: '10.88.1.1', port: 8080, target: to() };
    const stays: MappingSpec = { address: '127.0.0.1', port: 18081, target: to() };
    // Both tried every 40-50 ms: the one that stays is the clock for the one removed.
    const { fixture } = await openWith([gone, stays], { retryBaseMs: 50 });
    await fixture.out.next(retriedTimes('10.88.1.1:8080', 3));
    expect(netlinkSocketCount(fixture.pid)).toBe(1);

    expect(await fixture.call('remove', { key: { address: gone.address, port: gone.port } })).toMatchObject({ ok: true });
    expect(netlinkSocketCount(fixture.pid)).toBe(0);
    ns.run('ip', 'addr', 'add', '10.88.1.1/32', 'dev', 'lo');
    // Three more tries of the other one take longer than the removed one's longest wait: had its timer lived, it would have bound by now.
    await fixture.out.next(retriedTimes('127.0.0.1:18081', 3), fixture.mark);
    expect(((await fixture.call('list')).list as MappingStatus[]).map((s) => s.id)).toEqual(['127.0.0.1:18081']);
    const free = await serveTarget(ns, '10.88.1.1', 8080); // nobody holds it
    await free.stop();
  });
});

describe('in this process (root, the suite namespace)', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'berth-retry-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  });

  let opened = 0;

  /** A publisher on `specs` as saved; `waitFor(pred)` resolves at the first change from now on that matches. */
  async function open(specs: MappingSpec[], overrides: Partial<PortPublisherOptions> = {}) {
    const lines: Array<Record<string, unknown>> = [];
    const waiters = new Set<(line: Record<string, unknown>) => void>();
    const mappingsPath = join(dir, `mappings-${opened++}.json`);
    writeFileSync(mappingsPath, JSON.stringify({ version: 1, mappings: specs }));
    const { publisher } = await PortPublisher.open({
      mappingsPath,
      helper: async () => undefined,
      privilegedPortMapping: () => true,
      onChange: () => {
        const line = { event: 'change', list: publisher.list() };
        lines.push(line);
        for (const waiter of [...waiters]) waiter(line);
      },
      ...overrides,
    });
    cleanups.push(() => publisher.close());
    const waitFor = (pred: (line: Record<string, unknown>) => boolean): Promise<void> =>
      new Promise((resolve) => {
        const waiter = (line: Record<string, unknown>): void => {
          if (!pred(line)) return;
          waiters.delete(waiter);
          resolve();
        };
        waiters.add(waiter);
      });
    return { publisher, waitFor, untilRetried: (id: string, times: number) => waitFor(retriedTimes(id, times)) };
  }

  function held(): number {
    const { fd, port } = listeningFd();
    cleanups.push(() => closeSync(fd));
    return port;
  }

  it('leaks no descriptor: tries that fail hold nothing, and removing what waits closes its watch', async () => {
    const before = openFdCount();
    const busy = held();
    const { publisher, untilRetried } = await open(
      [
        { address: '127.0.0.1', port: busy, target: { host: 'localhost', port: 1 } },
        { address: '10.217.0.1', port: 8080, target: { host: 'localhost', port: 1 } },
      ],
      { retry: { backoff: { baseMs: 5, capMs: 5 } } },
    );
    await untilRetried(`127.0.0.1:${busy}`, 20);
    await untilRetried('10.217.0.1:8080', 20);
    expect(openFdCount()).toBe(before + 2); // the port's holder, and the address watch
    await publisher.remove({ address: '10.217.0.1', port: 8080 });
    await publisher.remove({ address: '127.0.0.1', port: busy });
    expect(openFdCount()).toBe(before + 1);
  });

  it('never retries a refusal by policy or a mapping that forwards to itself', async () => {
    const denied = unusedPort();
    const loop = unusedPort();
    const busy = held();
    let rules: PortRulesInForce | null = { rules: { deny: [denied], wildcardAddresses: false }, source: 'Example Corp policy v4' };
    const { publisher, untilRetried } = await open(
      [
        { address: '127.0.0.1', port: denied, target: { host: 'localhost', port: 1 } },
        { address: '127.0.0.1', port: loop, target: { host: '127.0.0.1', port: loop } },
        { address: '127.0.0.1', port: busy, target: { host: 'localhost', port: 1 } },
      ],
      { retry: { backoff: { baseMs: 20, capMs: 20 } }, portRules: () => rules },
    );
    expect(publisher.list()).toMatchObject([
      { state: 'error', error: { code: 'LOCKED' }, retry: null },
      { state: 'error', error: { code: 'INVALID' }, retry: null },
      { state: 'waiting', error: { code: 'PORT_IN_USE' } },
    ]);
    rules = null; // a retry now would bind it
    await untilRetried(`127.0.0.1:${busy}`, 3); // the clock: the refused ones would have been tried by now
    expect(publisher.list()).toMatchObject([
      { state: 'error', error: { code: 'LOCKED' }, retry: null },
      { state: 'error', error: { code: 'INVALID' }, retry: null },
      { state: 'waiting' },
    ]);
    expect(portIsFree('127.0.0.1', denied)).toBe(true);
  });

  it("says when Berth's own mapping holds the port, and starts the moment that one is removed", async () => {
    const port = unusedPort();
    const target = { host: 'localhost', port: 1 };
    const { publisher } = await open(
      [
        { address: '0.0.0.0', port, target },
        { address: '127.0.0.1', port, target },
      ],
      { retry: { backoff: { baseMs: 600_000 } } },
    );
    const message = `127.0.0.1:${port} is in use by Berth's own mapping 0.0.0.0:${port} (to localhost:1): remove one of the two`;
    expect(publisher.list()).toMatchObject([
      { state: 'listening' },
      { state: 'waiting', error: { code: 'PORT_IN_USE', message }, retry: { onAddressChange: false } },
    ]);
    // An add is refused the same way, naming ours.
    await publisher.remove({ address: '127.0.0.1', port });
    await expect(publisher.add({ address: '127.0.0.1', port, target })).rejects.toMatchObject({ code: 'PORT_IN_USE', message });

    const other = unusedPort();
    const reopened = await open(
      [
        { address: '0.0.0.0', port: other, target },
        { address: '127.0.0.1', port: other, target },
      ],
      { retry: { backoff: { baseMs: 600_000 } } },
    );
    const up = reopened.waitFor((line) => (line.list as MappingStatus[]).some((s) => s.id === `127.0.0.1:${other}` && s.state === 'listening'));
    await reopened.publisher.remove({ address: '0.0.0.0', port: other });
    await up; // not the 10-minute timer: the removal
  });
});
