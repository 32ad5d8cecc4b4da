import { lstatSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { errnoCode } from '../../common/errno';

/**
 * Is the app the helper was installed for still there? Users remove an app
 * by dragging it to the Trash (or deleting the AppImage); nothing tells the
 * helper, so it checks when it starts. 'unknown' whenever it cannot see:
 * only a missing app in a folder that is visible counts as gone. Under
 * systemd's ProtectHome= a home directory is hidden (its parent then looks
 * missing too), and a removal must never follow from not being able to look.
 */
export type AppPresence = { state: 'present' } | { state: 'gone' } | { state: 'unknown'; why: string };

export function appPresence(appPath: string): AppPresence {
  try {
    // lstat: a symlink left where the app was still counts as there (its target is not ours to judge).
    lstatSync(appPath);
    return { state: 'present' };
  } catch (error) {
    const code = errnoCode(error);
    if (code !== 'ENOENT') return { state: 'unknown', why: `cannot look at ${appPath} (${code ?? 'error'})` };
  }
  const parent = dirname(appPath);
  try {
    if (statSync(parent).isDirectory()) return { state: 'gone' };
    return { state: 'unknown', why: `${parent} is not a directory` };
  } catch (error) {
    return { state: 'unknown', why: `cannot see ${parent} (${errnoCode(error) ?? 'error'})` };
  }
}

/**
 * Gone twice, `confirmMs` apart: an update replaces the app by a rename (or
 * an MDM removes and copies it), and a helper woken in that instant must not
 * remove itself. Resolves true only when the app was gone both times.
 */
export async function appGoneConfirmed(appPath: string, confirmMs: number, log: (line: string) => void): Promise<boolean> {
  if (appPresence(appPath).state !== 'gone') return false;
  log(`the app at ${appPath} is missing; looking again in ${confirmMs} ms before removing anything`);
  await sleep(confirmMs);
  if (appPresence(appPath).state === 'gone') return true;
  log(`the app at ${appPath} is back (an update): nothing removed`);
  return false;
}
