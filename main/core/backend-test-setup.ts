// Test support only (imported by the backend's tests, never by the app): the
// set-up the tests of `berth app` share. The app runs as the unprivileged
// test user with a home of its own, beside the real root helper.
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, inject } from 'vitest';
import { appDir, startApp, type RunningApp } from '../../test/support/app';
import { startHelper, type HelperProcess } from '../../test/support/processes';

/**
 * The first of the ports below 1024 the backend's tests publish: 481-485, which
 * no other test file uses, so files running at once do not collide.
 */
export const LOW_PORT = 481;

/**
 * Settings this machine already matches, unless the test wrote its own: no hosts
 * entries, and the User CLI location with its links in place. The backend carries
 * out its settings whenever they differ (reconcile.ts), so a test about something
 * else starts from a state with nothing to carry out.
 */
export const SETTLED = '{"hostsEntries": false, "cliToolsLocation": "user"}';

export function settledHome(home: string, app = appDir()): void {
  const users = inject('users');
  const config = join(home, '.config/berth');
  mkdirSync(config, { recursive: true, mode: 0o700 });
  if (!existsSync(join(config, 'settings.json'))) writeFileSync(join(config, 'settings.json'), SETTLED);
  const bin = join(home, '.berth/bin');
  mkdirSync(bin, { recursive: true, mode: 0o700 });
  // lstat, not existsSync: a link of ours may point at a program this test app does not have.
  if (!lstatSync(join(bin, 'berth'), { throwIfNoEntry: false })) symlinkSync(join(app, 'resources/bin/berth'), join(bin, 'berth'));
  execFileSync('chown', ['-hR', `${users.test.uid}:${users.test.gid}`, join(home, '.config'), join(home, '.berth')]);
}

export function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

const made = <T>(value: T | undefined, what: string): T => {
  if (value === undefined) throw new Error(`${what} is made in beforeAll: use it inside a test`);
  return value;
};

/**
 * For a test file: the real root helper serving the test user, started before
 * its tests and stopped after them; `withApp` runs `berth app` beside it, in a
 * settled home (settledHome), for the length of `fn`.
 */
export function sharedHelper(): {
  readonly helper: HelperProcess;
  withApp<T>(home: string, fn: (app: RunningApp) => Promise<T>): Promise<T>;
} {
  const users = inject('users');
  let helper: HelperProcess | undefined;
  beforeAll(async () => {
    helper = await startHelper({ allowUid: users.test.uid, privateSystemPaths: true });
  });
  afterAll(async () => {
    await helper?.stop();
  });
  return {
    get helper() {
      return made(helper, 'the helper');
    },
    async withApp(home, fn) {
      settledHome(home);
      const app = await startApp(users.test, home, ['--helper-socket', made(helper, 'the helper').socketPath]);
      try {
        return await fn(app);
      } finally {
        await app.stop();
      }
    },
  };
}

/** For a test file: an HTTP server on 127.0.0.1 that answers "hello from the target", for published ports to forward to. */
export function helloTarget(): { readonly port: number } {
  let target: Server | undefined;
  let port: number | undefined;
  beforeAll(async () => {
    target = createHttpServer((_req, res) => res.end('hello from the target'));
    await new Promise<void>((resolve) => target!.listen(0, '127.0.0.1', resolve));
    port = (target.address() as AddressInfo).port;
  });
  afterAll(() => {
    target?.close();
  });
  return {
    get port() {
      return made(port, 'the target');
    },
  };
}
