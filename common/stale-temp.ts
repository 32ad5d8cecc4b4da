/**
 * What a crash between an atomic write's create and its rename leaves: a temp
 * file beside the real one. Both the backend and the helper sweep their own
 * at start (main/core/fs/user-file.ts, helper/fs/sweep.ts), with these rules.
 */

/** A temp file still this young may be another process's write in progress: left alone. */
export const STALE_TEMP_AGE_MS = 60_000;

/** `name` as a literal inside a regular expression. */
export function escapeForRegExp(name: string): string {
  return name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
