import { basename, dirname } from 'node:path';
import { fsyncDirectory, renameAt, statAt } from '../../native';
import { readConfigFile } from '../../common/helper-config/read';
import { helperConfig, type HelperConfig, type HelperConfigInput } from '../../common/helper-config/schema';
import { describeIssues } from '../../common/protocol/messages';
import { withTrustedDirectory } from '../../common/fs/trusted-directory';
import { replaceIfUnchanged, unlinkQuietly, writeTempFile } from './atomic-write';

/**
 * The installed helper's config, written by root only: the installer (install,
 * enrolment, an admin's uninstall --uid) and the helper itself (a user's own
 * unenrolment). Root trusts this file with who may connect, so nothing
 * invalid is ever written, and it is always replaced whole, atomically.
 */

/** Concurrent writers retried before giving up; two at once is rare (two users enrolling), more is a bug. */
const MAX_ATTEMPTS = 5;

/** The file's bytes: validated first, in the current shape (a legacy `allowUid` is written as `allowUids`). */
export function serializeConfig(config: HelperConfigInput | HelperConfig): Buffer {
  const parsed = helperConfig.safeParse(config);
  if (!parsed.success) throw new Error(`refusing to write an invalid helper config: ${describeIssues(parsed.error)}`);
  return Buffer.from(JSON.stringify(parsed.data, null, 2) + '\n');
}

/** Replaces the config (root, 0644) atomically; its directory must be root's alone. Returns what was written, as readers parse it. */
export function writeConfigFile(path: string, config: HelperConfigInput | HelperConfig): HelperConfig {
  const content = serializeConfig(config);
  withTrustedDirectory(dirname(path), (dir) => {
    const temp = writeTempFile(dir, basename(path), content, { mode: 0o644 });
    try {
      renameAt(dir.fd, temp, basename(path));
    } catch (error) {
      unlinkQuietly(dir, temp);
      throw error;
    }
    fsyncDirectory(dir.fd);
  });
  return helperConfig.parse(JSON.parse(content.toString('utf8')));
}

export interface ConfigUpdate {
  before: HelperConfig;
  after: HelperConfig;
  changed: boolean;
}

/**
 * Read, change, replace, without losing a concurrent writer's change: the
 * helper (a user unenrolling) and the installer (another user enrolling) may
 * write at once, and a lost update would silently drop an enrolment or keep
 * one the user removed. So the new file replaces the old only if the old is
 * still the one we read; otherwise we read again and reapply the change.
 * `change` returns undefined for "nothing to do" (no write at all).
 */
export function updateConfigFile(path: string, change: (current: HelperConfig) => HelperConfigInput | HelperConfig | undefined): ConfigUpdate {
  const name = basename(path);
  for (let attempt = 1; ; attempt++) {
    const seen = withTrustedDirectory(dirname(path), (dir) => statAt(dir.fd, name));
    const before = readConfigFile(path);
    const next = change(before);
    if (next === undefined) return { before, after: before, changed: false };
    const content = serializeConfig(next);
    const replaced = withTrustedDirectory(dirname(path), (dir) => replaceIfUnchanged(dir, name, content, seen, { mode: 0o644 }));
    if (replaced) return { before, after: helperConfig.parse(JSON.parse(content.toString('utf8'))), changed: true };
    if (attempt >= MAX_ATTEMPTS) throw new Error(`${path} kept changing while it was being updated; try again`);
  }
}
