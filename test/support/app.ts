import { join } from 'node:path';
import { inject } from 'vitest';
import type { TestUser } from './constants';
import { finished, type Finished } from './processes';
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

export interface RunningApp {
  url: string;
  origin: string;
  token: string;
  controlSocket: string;
  home: string;
  stderr(): string;
  /** Calls the backend API the way the browser page does. */
  call(method: string, params?: unknown): Promise<{ ok: boolean; result?: unknown; error?: { code: string; message: string } }>;
  stop(): Promise<void>;
}

/**
 * `berth app --json` as `user`: the real backend (and browser-mode server);
 * resolves once it serves. `app`: another copy of the installed app's folder.
 */
export function startApp(user: TestUser, home: string, extraArgs: string[] = [], app: string = appDir()): Promise<RunningApp> {
  const child = spawnInHome(user, home, [process.execPath, join(app, 'dist/cli/berth.js'), 'app', '--json', ...extraArgs]);
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  return new Promise((resolve, reject) => {
    let stdout = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      const end = stdout.indexOf('\n');
      if (end < 0) return;
      const { url, controlSocket } = JSON.parse(stdout.slice(0, end)) as { url: string; controlSocket: string };
      const parsed = new URL(url);
      const token = parsed.searchParams.get('token') ?? '';
      resolve({
        url,
        origin: parsed.origin,
        token,
        controlSocket,
        home,
        stderr: () => stderr,
        async call(method, params = {}) {
          const res = await fetch(`${parsed.origin}/api/call`, {
            method: 'POST',
            headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
            body: JSON.stringify({ method, params }),
          });
          return (await res.json()) as { ok: boolean; result?: unknown; error?: { code: string; message: string } };
        },
        stop: () =>
          new Promise<void>((done) => {
            if (child.exitCode !== null) return done();
            child.once('exit', () => done());
            child.kill('SIGTERM');
          }),
      });
    });
    child.once('exit', (code) => reject(new Error(`berth app exited (${code}) before it served:\n${stderr}`)));
  });
}
