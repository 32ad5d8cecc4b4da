/**
 * The PortPublisher tests' per-test set-up (not shipped), in one place:
 * a scratch directory of each test's own with mappings.json's path in it,
 * clean-ups run after each test (the last added first), and what the saved
 * file holds. Two kinds, each called once at a test file's top level (it
 * registers that file's beforeEach and afterEach):
 *
 * - publishersAsUser(user): real PortPublishers in fixture processes run as
 *   the unprivileged `user`, optionally in a network namespace, with the real
 *   helper (publisher-helper.test.ts, publisher-udp.test.ts);
 * - publishersInProcess(): PortPublishers in this process, as root, where
 *   every bind is direct (publisher.test.ts and its siblings).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach } from 'vitest';
import type { MappingStatus } from '../../../common/ports/mapping';
import type { TestUser } from '../../../test/support/constants';
import { PortPublisher, type PortPublisherOptions } from './publisher';
import { PublisherFixture, userScratch, type NetNamespace } from './test-support';

export interface PublisherScope {
  /** This test's scratch directory (read it inside a test or a hook). */
  readonly dir: string;
  /** config/mappings.json in it: nothing is there until a publisher saves. */
  readonly mappingsPath: string;
  /** Run after this test, the last added first, before the directory goes. */
  readonly cleanups: Array<() => unknown>;
  /** The saved mappings file, parsed; undefined when none was written. */
  savedFile(): unknown;
}

function publisherScope(makeScratch: () => { dir: string; remove(): void }): PublisherScope {
  let scratch: { dir: string; remove(): void } | undefined;
  const cleanups: Array<() => unknown> = [];
  beforeEach(() => {
    scratch = makeScratch();
  });
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    scratch?.remove();
    scratch = undefined;
  });
  const dir = (): string => {
    if (scratch === undefined) throw new Error('the scratch directory is made in beforeEach: use it inside a test');
    return scratch.dir;
  };
  const mappingsPath = (): string => join(dir(), 'config', 'mappings.json');
  return {
    get dir() {
      return dir();
    },
    get mappingsPath() {
      return mappingsPath();
    },
    cleanups,
    savedFile: () => (existsSync(mappingsPath()) ? JSON.parse(readFileSync(mappingsPath(), 'utf8')) : undefined),
  };
}

/** Per test: a 0700 scratch directory owned by `user` (like a home), and publishers run as `user`. */
export function publishersAsUser(user: TestUser): PublisherScope & {
  /** A PortPublisher fixture process as the user (inside `ns` when given), stopped after the test. */
  publisherIn(ns?: NetNamespace): PublisherFixture;
} {
  const scope = publisherScope(() => userScratch(user));
  return Object.assign(scope, {
    publisherIn(ns?: NetNamespace): PublisherFixture {
      const fixture = PublisherFixture.start(user, ns);
      scope.cleanups.push(() => fixture.stop());
      return fixture;
    },
  });
}

/** The bindPort requests in a helper's audit log: who asked the helper for which port, and what it answered. */
export function bindPortRequests(helper: { auditEntries(): Array<Record<string, unknown>> }): Array<Record<string, unknown>> {
  return helper.auditEntries().filter((entry) => entry.op === 'bindPort');
}

export interface OpenedPublisher {
  publisher: PortPublisher;
  notice: string | undefined;
  /** How many times onChange has been called. */
  changes: () => number;
  /** Resolves with the list once `pred` holds for it, checked now and at every onChange: tests wait on state, never on time. */
  until(pred: (list: MappingStatus[]) => boolean): Promise<MappingStatus[]>;
}

/** Per test: a root-owned scratch directory, and publishers in this process with no helper (every bind is direct as root). */
export function publishersInProcess(): PublisherScope & {
  /** Opens a PortPublisher on this test's mappings.json (closed after the test); `overrides` replace the defaults. */
  open(overrides?: Partial<PortPublisherOptions>): Promise<OpenedPublisher>;
  /** An HTTP target on 127.0.0.1 (`port`, or any free one) that answers "hello from NAME"; closed after the test. Its port. */
  httpTarget(name: string, port?: number): Promise<number>;
  /** A port on 127.0.0.1 that another program (a plain server here) listens on until the test ends. */
  busyPort(): Promise<number>;
} {
  const scope = publisherScope(() => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-publisher-'));
    return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
  });
  const listen = async (server: net.Server, port = 0): Promise<number> => {
    await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port }, resolve));
    scope.cleanups.push(() => new Promise((resolve) => server.close(resolve)));
    return (server.address() as net.AddressInfo).port;
  };
  return Object.assign(scope, {
    async open(overrides: Partial<PortPublisherOptions> = {}): Promise<OpenedPublisher> {
      let changes = 0;
      const waiters = new Set<() => void>();
      const opened = await PortPublisher.open({
        mappingsPath: scope.mappingsPath,
        helper: async () => undefined,
        privilegedPortMapping: () => true,
        onChange: () => {
          changes++;
          for (const wake of [...waiters]) wake();
        },
        statsIntervalMs: 20,
        ...overrides,
      });
      scope.cleanups.push(() => opened.publisher.close());
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
    },
    httpTarget: (name: string, port = 0): Promise<number> => listen(http.createServer((_req, res) => res.end(`hello from ${name}`)), port),
    busyPort: (): Promise<number> => listen(net.createServer()),
  });
}
