import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { readFileAt } from './fs/read-file';
import { withTrustedDirectory } from './fs/trusted-directory';

/**
 * "An install or update of the helper is under way": the installer writes
 * this root-owned, world-readable marker in the helper's state dir before it
 * stops the old helper, and removes it once the new one serves (or the
 * install failed). While it is there, a socket that is gone or refuses is
 * the upgrade, not a missing helper, and "install it" would be wrong advice
 * (a second prompt racing the first). A marker whose installer is gone (a
 * crash, a power cut) is ignored: the pid must be alive and, where the
 * kernel says when it started (Linux), be the same process, since pids are
 * reused.
 */
export const INSTALL_MARKER_NAME = 'installing.json';

export const installMarker = z.strictObject({
  pid: z.number().int().min(2),
  /** /proc/PID/stat's start time (clock ticks since boot); null where there is no /proc. */
  started: z.string().regex(/^\d{1,20}$/).nullable(),
});
export type InstallMarker = z.infer<typeof installMarker>;

/** When process `pid` started (Linux /proc/PID/stat field 22); null when unknown or gone. */
export function processStarted(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may hold spaces and parentheses: fields are counted after the last ')'.
    const started = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
    return started !== undefined && /^\d{1,20}$/.test(started) ? started : null;
  } catch {
    return null;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, and is not ours to signal (the installer runs as root).
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The marker, validated; undefined when there is none or it cannot be trusted (the state dir must be root's alone). */
export function readInstallMarker(stateDir: string): InstallMarker | undefined {
  try {
    return withTrustedDirectory(stateDir, (dir) => {
      const bytes = readFileAt(dir, INSTALL_MARKER_NAME, 4096);
      return bytes === null ? undefined : installMarker.parse(JSON.parse(bytes.toString('utf8')));
    });
  } catch {
    return undefined;
  }
}

/** Is an install or update of the helper running right now? */
export function installUnderWay(stateDir: string): boolean {
  const marker = readInstallMarker(stateDir);
  if (marker === undefined || !alive(marker.pid)) return false;
  return marker.started === null || processStarted(marker.pid) === marker.started;
}
