import { spawn, type ChildProcess } from 'node:child_process';
import { chownSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestUser } from './constants';

/**
 * A user's session as the app sees it, shared by the Vitest and Playwright
 * suites (no vitest import here): a fresh home, and processes run as that
 * user with a login-like environment of its own.
 */

/** A fresh home for `user`: first run, no settings, no mappings. */
export function freshHome(user: TestUser): string {
  const home = mkdtempSync(join(tmpdir(), 'berth-home-'));
  chownSync(home, user.uid, user.gid);
  return home;
}

/** The login-like environment of `user`'s session: only HOME, USER, PATH and LANG, not root's HOME or XDG dirs. */
export function userEnvironment(user: TestUser, home: string): string[] {
  return [`HOME=${home}`, `USER=${user.name}`, 'PATH=/usr/local/bin:/usr/bin:/bin', 'LANG=C.UTF-8'];
}

/**
 * The command prefix that runs a program as `user` in that environment:
 * setpriv drops every privilege; a suite already running as that user (the
 * macOS end-to-end suite, as the desktop user) needs only the clean environment.
 */
export function asUserPrefix(user: TestUser, home: string): string[] {
  const env = ['env', '-i', ...userEnvironment(user, home)];
  if (process.getuid?.() === user.uid) return env;
  return ['setpriv', `--reuid=${user.uid}`, `--regid=${user.gid}`, '--clear-groups', '--inh-caps=-all', '--', ...env];
}

/** argv as `user`, in that user's own environment. */
export function spawnInHome(user: TestUser, home: string, argv: string[]): ChildProcess {
  const [file, ...args] = [...asUserPrefix(user, home), ...argv];
  return spawn(file!, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: '/' });
}
