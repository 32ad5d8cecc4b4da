import type { ChildProcess } from 'node:child_process';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import type { MappingStatus } from '../../../common/ports/mapping';
import { berthIn, freshHome, startApp, type RunningApp, type StartAppOptions } from '../../../test/support/app';
import { spawnFixtureAs } from '../../../test/support/processes';

/**
 * Resource exhaustion through the backend's listeners (T33), with real parts:
 * `berth app` as the test user, the CLI, a real target, and berth-other (or a
 * stuck script of the user's own) holding connections open. Nothing waits
 * for a time: each step waits for a state.
 */
const users = inject('users');
let target: Server;
let targetPort: number;

beforeAll(async () => {
  target = createHttpServer((_req, res) => res.end('hello from the target'));
  await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', resolve));
  targetPort = (target.address() as AddressInfo).port;
});

afterAll(() => {
  target.closeAllConnections();
  target.close();
});

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

async function withApp(options: StartAppOptions, fn: (app: RunningApp, home: string) => Promise<void>): Promise<void> {
  const home = freshHome(users.test);
  const app = await startApp(users.test, home, [], options);
  try {
    await fn(app, home);
  } finally {
    await app.stop();
  }
}

type ClientEvent = { event: 'open'; name: string; connected: number; failed: number } | { event: 'closed'; name: string };

/** The slow-clients fixture's events, waited for one by one. */
function clientEvents(child: ChildProcess): (match: (event: ClientEvent) => boolean) => Promise<ClientEvent> {
  const seen: ClientEvent[] = [];
  const waiting: Array<() => void> = [];
  let buffer = '';
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    buffer += chunk;
    for (let end = buffer.indexOf('\n'); end >= 0; end = buffer.indexOf('\n')) {
      seen.push(JSON.parse(buffer.slice(0, end)) as ClientEvent);
      buffer = buffer.slice(end + 1);
    }
    waiting.splice(0).forEach((wake) => wake());
  });
  return async (match) => {
    for (;;) {
      const found = seen.find(match);
      if (found) return found;
      if (child.exitCode !== null) throw new Error(`slow-clients exited: ${stderr}`);
      await new Promise<void>((wake) => waiting.push(wake));
    }
  };
}

async function publish(home: string, port: number): Promise<void> {
  const added = await berthIn(users.test, home, ['ports', 'add', `127.0.0.1:${port}=127.0.0.1:${targetPort}`]);
  expect(added.code, added.stderr).toBe(0);
}

async function mappings(home: string): Promise<MappingStatus[]> {
  const ls = await berthIn(users.test, home, ['ports', 'ls', '--json']);
  expect(ls.code, ls.stderr).toBe(0);
  return JSON.parse(ls.stdout) as MappingStatus[];
}

/** Asks the CLI until the mapping is in the state wanted. */
async function mappingWhen(home: string, wanted: (m: MappingStatus) => boolean): Promise<MappingStatus> {
  for (;;) {
    const [mapping] = await mappings(home);
    if (mapping !== undefined && wanted(mapping)) return mapping;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function throughMapping(port: number): Promise<string> {
  return (await fetch(`http://127.0.0.1:${port}/`)).text();
}

describe('another local user flooding the backend', () => {
  test('2,000 slow connections to browser mode and 2,000 to a published port stop neither the mapping nor the CLI', async () => {
    await withApp({}, async (app, home) => {
      const port = await freePort();
      await publish(home, port);
      const flood = spawnFixtureAs(users.other, 'slow-clients', [
        JSON.stringify([
          { name: 'browser', port: Number(new URL(app.origin).port), count: 2000 },
          { name: 'mapping', port, count: 2000 },
        ]),
      ]);
      const next = clientEvents(flood);
      try {
        // Browser mode turned every one of them away and closed it: none is held.
        await next((e) => e.event === 'closed' && e.name === 'browser');
        // The published port is open to every local user: its 2,000 stay open (the target waits for their requests)...
        expect(await next((e) => e.event === 'open' && e.name === 'mapping')).toMatchObject({ connected: 2000, failed: 0 });
        // ...and meanwhile a real request through it is answered, and so is the CLI.
        expect(await throughMapping(port)).toBe('hello from the target');
        const [mapping] = await mappings(home);
        expect(mapping).toMatchObject({ state: 'listening', acceptError: null });
        expect(mapping!.connections.active).toBeGreaterThanOrEqual(2000);
        // The window is still served to its own user.
        expect((await app.request({ path: '/' })).status).toBe(200);
      } finally {
        flood.kill('SIGTERM');
      }
    });
  });
});

describe('stuck clients on the control socket', () => {
  test('a silent one is closed after the idle timeout, half a line after the line deadline, and the CLI gets back in', async () => {
    const env = { BERTH_CONTROL_IDLE_MS: '1000', BERTH_CONTROL_LINE_MS: '1000' };
    await withApp({ env }, async (app, home) => {
      // Together they take every one of the socket's 64 places. The half line keeps
      // trickling, so the idle timeout never ends it: only the line deadline does.
      const stuck = spawnFixtureAs(users.test, 'slow-clients', [
        JSON.stringify([
          { name: 'silent', path: app.controlSocket, count: 32 },
          { name: 'half-line', path: app.controlSocket, count: 32, send: '{"id":1,"method":"state.get"', trickle: ' ' },
        ]),
      ]);
      const next = clientEvents(stuck);
      try {
        expect(await next((e) => e.event === 'open' && e.name === 'silent')).toMatchObject({ connected: 32, failed: 0 });
        expect(await next((e) => e.event === 'open' && e.name === 'half-line')).toMatchObject({ connected: 32, failed: 0 });
        await next((e) => e.event === 'closed' && e.name === 'silent');
        await next((e) => e.event === 'closed' && e.name === 'half-line');
        expect((await berthIn(users.test, home, ['ports', 'ls'])).code).toBe(0);
      } finally {
        stuck.kill('SIGTERM');
      }
    });
  });
});

describe('the backend out of file descriptors', () => {
  test('a mapping says why it refuses connections while they are used up, and forwards again once they close', async () => {
    // 256 at most, soft and hard: the app cannot raise it.
    await withApp({ maxFiles: 256 }, async (_app, home) => {
      const port = await freePort();
      await publish(home, port);
      const flood = spawnFixtureAs(users.other, 'slow-clients', [JSON.stringify([{ name: 'mapping', port, count: 300 }])]);
      try {
        const refusing = await mappingWhen(home, (m) => m.acceptError !== null);
        expect(refusing).toMatchObject({
          state: 'listening',
          acceptError: `Berth has too many open connections; new connections to port ${port} are refused until some close`,
          // Not the target's fault.
          lastTargetError: null,
        });
        const table = await berthIn(users.test, home, ['ports', 'ls']);
        expect(table.stdout).toContain(`listening: Berth has too many open connections; new connections to port ${port} are refused`);
      } finally {
        flood.kill('SIGTERM');
      }
      await mappingWhen(home, (m) => m.acceptError === null && m.connections.active === 0);
      expect(await throughMapping(port)).toBe('hello from the target');
    });
  });
});
