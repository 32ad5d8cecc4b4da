import { lstatSync } from 'node:fs';
import { readConfigFile } from '../../common/helper-config/read';
import { updateConfigFile } from '../fs/config-file';

/**
 * Who the helper serves besides root: the enrolled uids. Asked on every
 * connection and every request, before anything the peer sent is read.
 */
export interface Enrolment {
  /** Root, or a uid enrolled right now. */
  allows(uid: number): boolean;
  /** The enrolled uids, in the order they enrolled (root is not listed: it is always served). */
  uids(): readonly number[];
  /**
   * Ends `uid`'s enrolment (the config is rewritten, when there is one) and
   * returns the uids that remain; undefined, changing nothing, when `uid` is
   * the only one: then the whole helper goes instead (ops/uninstall.ts), as
   * an empty list would leave a helper that serves root alone, forever.
   */
  unenrol(uid: number): readonly number[] | undefined;
}

/**
 * The sentence an account that is not enrolled gets, before it may send a
 * byte. It names only the caller's own uid: an unenrolled user learns that
 * a helper exists here, not who else uses it.
 */
export function notEnrolledMessage(uid: number): string {
  return (
    `Berth's helper on this machine is not set up for your account (uid ${uid}): ` +
    `choose "Install helper" in Berth or run "berth helper install" to enrol, which asks for an administrator's password`
  );
}

/** `serve` with flags (development, tests): the uids given, changed in memory only. */
export function fixedEnrolment(initial: readonly number[]): Enrolment {
  let uids = [...initial];
  return {
    allows: (uid) => uid === 0 || uids.includes(uid),
    uids: () => uids,
    unenrol(uid) {
      if (!uids.includes(uid)) return uids;
      if (uids.length === 1) return undefined;
      uids = uids.filter((u) => u !== uid);
      return uids;
    },
  };
}

/** Identity of the file as it is now: a replaced (renamed-over) or edited file has another. */
function identity(path: string): string {
  try {
    const st = lstatSync(path);
    return `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
  } catch {
    return 'missing';
  }
}

/**
 * The installed helper: enrolment lives in its root-owned config file, which
 * the installer rewrites when a user enrols (or an admin unenrols one) while
 * the helper runs. One lstat per check tells whether it changed; only then is
 * it read again (through the same root-only checks as at start), so a new
 * user is served, and a removed one refused, without a restart. A config that
 * can no longer be read fails closed: root alone is served until it is fixed.
 * Only the enrolment is re-read; everything else in the file takes effect at
 * the next start (install restarts the helper when one of those changed, and
 * only then: helper/install/restart.ts).
 */
export function fileEnrolment(configPath: string, initial: readonly number[]): Enrolment {
  let uids = [...initial];
  // Unknown until the first check: the file may have changed since serve read it.
  let seen: string | undefined;
  const refresh = (): void => {
    const now = identity(configPath);
    if (now === seen) return;
    seen = now;
    try {
      uids = [...readConfigFile(configPath).allowUids];
    } catch (error) {
      uids = [];
      console.error(`berth-helper: ${(error as Error).message}; serving root only until the config is fixed (reinstall)`);
    }
  };
  return {
    allows(uid) {
      if (uid === 0) return true;
      refresh();
      return uids.includes(uid);
    },
    uids() {
      refresh();
      return uids;
    },
    unenrol(uid) {
      const left = unenrolInFile(configPath, uid);
      if (left === undefined) return undefined;
      uids = [...left];
      seen = identity(configPath);
      return uids;
    },
  };
}

/**
 * Removes `uid` from the config file's enrolment (atomically, without losing
 * a concurrent enrolment) and returns who remains; undefined, changing
 * nothing, when `uid` is the last one. Used by the helper (a user's own
 * uninstall) and by root's `berth-helper uninstall --uid`.
 */
export function unenrolInFile(configPath: string, uid: number): readonly number[] | undefined {
  let last = false;
  const { after } = updateConfigFile(configPath, (config) => {
    if (!config.allowUids.includes(uid)) return undefined;
    if (config.allowUids.length === 1) {
      last = true;
      return undefined;
    }
    return { ...config, allowUids: config.allowUids.filter((u) => u !== uid) };
  });
  return last ? undefined : after.allowUids;
}
