import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { join } from 'node:path';
import { inject } from 'vitest';
import type { TestUser } from './constants';
import { finished, firstLine, spawnFixtureAs, type Finished } from './processes';
import { spawnInHome } from './user-home';

export { freshHome, spawnInHome } from './user-home';

/** The app as installed for the test users (global-setup: app/dist/{cli,helper,renderer}). */
export function appDir(): string {
  return join(inject('fixturesDir'), 'app');
}

/** `berth ARGS` as `user` in `home`, to completion. */
export function berthIn(user: TestUser, home: string, args: string[]): Promise<Finished> {
  return finished(spawnInHome(user, home, [process.execPath, join(appDir(), 'dist/cli/berth.js'), ...args]));
}

export interface RawAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface RawRequest {
  path: string;
  method?: string;
  /** Defaults to the server's own 127.0.0.1:PORT. */
  host?: string;
  headers?: Record<string, string>;
  body?: string;
}

export interface RunningApp {
  /** The launch link `berth app --json` printed (single use). */
  url: string;
  origin: string;
  /** The launch code in that link. */
  launchCode: string;
  controlSocket: string;
  home: string;
  /** The app's process (setpriv execs it, so this is `berth app` itself). */
  pid: number;
  stderr(): string;
  /**
   * A request from the user's own browser, as the server sees it: through a
   * relay run as the app's user (browser mode serves no one else, T25).
   */
  request(options: RawRequest): Promise<RawAnswer>;
  /** Opens the event stream as the user, with a session's token. */
  events(session: string): Promise<{ status: number; next(): Promise<string>; close(): void }>;
  /** The session the page gets for the printed link (exchanged once, on first use). */
  session(): Promise<string>;
  /** Calls the backend API the way the browser page does, with that session. */
  call(method: string, params?: unknown): Promise<{ ok: boolean; result?: unknown; error?: { code: string; message: string } }>;
  stop(): Promise<void>;
}

export interface StartAppOptions {
  /** Put this directory first on the app's PATH (e.g. a stand-in xdg-open for --open). */
  pathPrefix?: string;
  /** Run another copy of the installed app's folder. */
  app?: string;
  /** Variables set for the app (e.g. shorter deadlines). */
  env?: Record<string, string>;
  /** Start the app with this many file descriptors at most (prlimit --nofile=N:N, so it cannot raise them). */
  maxFiles?: number;
}

/** `berth app --json` as `user`: the real backend (and browser-mode server); resolves once it serves. */
export async function startApp(user: TestUser, home: string, extraArgs: string[] = [], options: StartAppOptions = {}): Promise<RunningApp> {
  const vars = Object.entries(options.env ?? {}).map(([name, value]) => `${name}=${value}`);
  if (options.pathPrefix !== undefined) vars.push(`PATH=${options.pathPrefix}:/usr/local/bin:/usr/bin:/bin`);
  const env = vars.length === 0 ? [] : ['env', ...vars];
  const limit = options.maxFiles === undefined ? [] : ['prlimit', `--nofile=${options.maxFiles}:${options.maxFiles}`, '--'];
  const child = spawnInHome(user, home, [...env, ...limit, process.execPath, join(options.app ?? appDir(), 'dist/cli/berth.js'), 'app', '--json', ...extraArgs]);
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const stopApp = (): Promise<void> =>
    new Promise<void>((done) => {
      if (child.exitCode !== null || child.signalCode !== null) return done();
      child.once('exit', () => done());
      child.kill('SIGTERM');
    });
  const { url, controlSocket } = await firstLine<{ url: string; controlSocket: string }>(child).catch((error: unknown) => {
    throw new Error(`berth app exited before it served: ${String(error)}\n${stderr}`);
  });
  const parsed = new URL(url);
  const port = Number(parsed.port);

  // The relay's socket sits in the user's 0700 home: root (this test) and the user reach it, nobody else.
  const relaySocket = join(home, '.browser-relay.sock');
  const relay = spawnFixtureAs(user, 'browser-relay', [relaySocket, String(port)]);
  try {
    await firstLine(relay);
  } catch (error) {
    await stopApp();
    throw error;
  }

  const send = (options: RawRequest): Promise<RawAnswer> =>
    new Promise((resolve, reject) => {
      const req = httpRequest(
        {
          socketPath: relaySocket,
          path: options.path,
          method: options.method ?? 'GET',
          headers: { host: options.host ?? `127.0.0.1:${port}`, ...options.headers },
        },
        (res) => {
          let body = '';
          res.setEncoding('utf8').on('data', (c: string) => (body += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        },
      );
      req.on('error', reject);
      req.end(options.body);
    });

  let session: Promise<string> | undefined;
  const app: RunningApp = {
    url,
    origin: parsed.origin,
    launchCode: parsed.searchParams.get('launch') ?? '',
    controlSocket,
    home,
    pid: child.pid!,
    stderr: () => stderr,
    request: (options) => send(options),
    session() {
      session ??= send({
        path: '/api/session',
        method: 'POST',
        headers: { 'content-type': 'application/json', origin: parsed.origin },
        body: JSON.stringify({ launch: app.launchCode }),
      }).then((answer) => {
        if (answer.status !== 200) throw new Error(`the launch code was refused (${answer.status}): ${answer.body}`);
        return (JSON.parse(answer.body) as { session: string }).session;
      });
      return session;
    },
    async call(method, params = {}) {
      const answer = await send({
        path: '/api/call',
        method: 'POST',
        headers: { authorization: `Bearer ${await app.session()}`, 'content-type': 'application/json' },
        body: JSON.stringify({ method, params }),
      });
      return JSON.parse(answer.body) as { ok: boolean; result?: unknown; error?: { code: string; message: string } };
    },
    events(token) {
      return new Promise((resolve, reject) => {
        const req = httpRequest(
          { socketPath: relaySocket, path: `/api/events?token=${encodeURIComponent(token)}`, headers: { host: `127.0.0.1:${port}` } },
          (res) => {
            let text = '';
            const waiting: Array<() => void> = [];
            res.setEncoding('utf8').on('data', (c: string) => {
              text += c;
              waiting.splice(0).forEach((wake) => wake());
            });
            resolve({
              status: res.statusCode ?? 0,
              // The next `state` event (heartbeats skipped).
              async next() {
                for (;;) {
                  const end = text.indexOf('\n\n');
                  if (end >= 0) {
                    const event = text.slice(0, end);
                    text = text.slice(end + 2);
                    if (event.startsWith('event: state')) return event;
                    continue;
                  }
                  await new Promise<void>((wake) => waiting.push(wake));
                }
              },
              close: () => req.destroy(),
            });
          },
        );
        req.on('error', reject);
        req.end();
      });
    },
    async stop() {
      relay.kill('SIGTERM');
      await stopApp();
    },
  };
  return app;
}
