/**
 * The capabilities tests' set-up (not shipped), in one place: scratch
 * directories the unprivileged user can read, gather options that point at
 * files the test controls (never the machine's /etc/hosts or bin folders),
 * the report as that user's backend gathers it, and, for a describe block,
 * the real root helper beside a scratch directory (gather.test.ts,
 * helper-diagnosis.test.ts).
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, inject } from 'vitest';
import type { Capabilities } from '../../../common/api/capabilities';
import { DEFAULT_SETTINGS } from '../../../common/settings/schema';
import type { TestUser } from '../../../test/support/constants';
import { runFixtureAs, startHelper, type HelperProcess } from '../../../test/support/processes';
import type { GatherOptions } from './gather';
import { NO_POLICY } from './sample-reports';

/** The app path the options name (CLI links are judged against it). */
export const APP = '/opt/Berth';

/** A world-readable scratch directory (the unprivileged user reads files in it). */
export function scratch(): string {
  const dir = mkdtempSync(join(tmpdir(), 'berth-caps-'));
  chmodSync(dir, 0o755);
  return dir;
}

/** A hosts file the test controls: never the machine's /etc/hosts. */
export function hostsFile(dir: string, content: string, mode = 0o644): string {
  const path = join(dir, `hosts-${Math.random().toString(36).slice(2)}`);
  writeFileSync(path, content, { mode });
  chmodSync(path, mode);
  return path;
}

/** An ip_unprivileged_port_start stand-in the test controls. */
export function portStart(dir: string, value: string): string {
  const path = join(dir, `port-start-${value.trim() || 'empty'}-${Math.random().toString(36).slice(2)}`);
  writeFileSync(path, value, { mode: 0o644 });
  return path;
}

/**
 * Options for gatherCapabilities with every path in `dir`: no helper, no
 * user-mode record, a plain hosts file, empty bin folders, no policy, and
 * ip_unprivileged_port_start 1024; `extra` replaces any of them.
 */
export function options(dir: string, extra: Partial<GatherOptions> = {}): GatherOptions {
  return {
    settings: DEFAULT_SETTINGS,
    helperSocketPath: join(dir, 'no-helper.sock'),
    userModePath: join(dir, 'no-user-mode.json'),
    hostsPath: hostsFile(dir, '127.0.0.1 localhost\n'),
    appPath: APP,
    userBinDir: join(dir, 'user-bin'),
    systemBinDir: join(dir, 'system-bin'),
    policy: NO_POLICY,
    unprivilegedPortStartPath: portStart(dir, '1024'),
    ...extra,
  };
}

/** The report as an unprivileged user's backend would see it (berth-test unless `user` says otherwise). */
export function gatherAsUser(opts: GatherOptions, user: TestUser = inject('users').test): Promise<Capabilities> {
  return runFixtureAs<Capabilities>(user, 'diagnostics', ['capabilities', JSON.stringify(opts)]);
}

/**
 * For a describe block: the real root helper serving `uid`, and a scratch
 * directory, made before the block's tests and gone after them.
 */
export function helperAndScratch(uid: number): { readonly helper: HelperProcess; readonly dir: string } {
  let helper: HelperProcess | undefined;
  let dir: string | undefined;
  beforeAll(async () => {
    helper = await startHelper({ allowUid: uid });
    dir = scratch();
  });
  afterAll(async () => {
    await helper?.stop();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });
  const made = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`${what} is made in beforeAll: use it inside a test`);
    return value;
  };
  return {
    get helper() {
      return made(helper, 'the helper');
    },
    get dir() {
      return made(dir, 'the scratch directory');
    },
  };
}
