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

/** argv as `user` (setpriv drops every privilege) with only HOME, USER, PATH and LANG: not root's HOME or XDG dirs. */
export function spawnInHome(user: TestUser, home: string, argv: string[]): ChildProcess {
  return spawn(
    'setpriv',
    [`--reuid=${user.uid}`, `--regid=${user.gid}`, '--clear-groups', '--inh-caps=-all', '--',
      'env', '-i', `HOME=${home}`, `USER=${user.name}`, 'PATH=/usr/local/bin:/usr/bin:/bin', 'LANG=C.UTF-8', ...argv],
    { stdio: ['ignore', 'pipe', 'pipe'], cwd: '/' },
  );
}
