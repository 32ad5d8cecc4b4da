import { execFileSync } from 'node:child_process';
import type { TestUser } from './constants';

/** Creates an unprivileged system user the tests run clients as (no home, no shell); idempotent. */
export function ensureUser(name: string): TestUser {
  const lookup = (flag: string): number => Number(execFileSync('id', [flag, name], { encoding: 'utf8' }).trim());
  try {
    return { name, uid: lookup('-u'), gid: lookup('-g') };
  } catch {
    execFileSync('useradd', ['--system', '--user-group', '--no-create-home', '--shell', '/usr/sbin/nologin', name]);
    return { name, uid: lookup('-u'), gid: lookup('-g') };
  }
}
