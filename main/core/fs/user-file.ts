import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, lstatSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, unlinkSync, writeSync, constants } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { escapeForRegExp, STALE_TEMP_AGE_MS } from '../../../common/stale-temp';

/**
 * The backend's own files (settings, mappings, logs, archives): written as
 * the user, in the user's directories. Root never writes here.
 */

/**
 * Creates `dir` (and parents) 0700 if missing, and refuses one that is a
 * symlink or not ours: a directory someone else owns could be swapped under us.
 */
export function ensurePrivateDirectory(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = lstatSync(dir);
  if (!st.isDirectory()) throw new Error(`${dir} is not a directory`);
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid) throw new Error(`${dir} belongs to uid ${st.uid}, not to you`);
}

/**
 * Replaces `path` with `content` atomically: a new temp file beside it
 * (O_EXCL|O_NOFOLLOW, so nothing planted at the name is followed), fsynced,
 * renamed over the old name, then the directory fsynced. A crash leaves the
 * old file or the new one, never a torn one.
 */
export function writeFileAtomic(path: string, content: string | Buffer, mode = 0o600): void {
  const dir = dirname(path);
  const temp = join(dir, `.${basename(path)}.${randomBytes(TEMP_RANDOM_BYTES).toString('hex')}.tmp`);
  const fd = openSync(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, mode);
  try {
    const bytes = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
    let written = 0;
    while (written < bytes.length) written += writeSync(fd, bytes, written);
    fsyncSync(fd);
  } catch (error) {
    closeSync(fd);
    rmSync(temp, { force: true });
    throw error;
  }
  closeSync(fd);
  try {
    renameSync(temp, path);
  } catch (error) {
    rmSync(temp, { force: true });
    throw error;
  }
  fsyncDirectory(dir);
}

const TEMP_RANDOM_BYTES = 6;

export { STALE_TEMP_AGE_MS };

/**
 * Removes the temp files an interrupted {@link writeFileAtomic} of `path`
 * left behind (a crash between create and rename): only names of exactly
 * our pattern, only regular files of ours (lstat: a link at such a name is
 * not followed, and not removed), only when older than a minute. Returns
 * how many went. Called when a file is first read at start.
 */
export function sweepStaleTemps(path: string, now: number = Date.now()): number {
  const dir = dirname(path);
  const pattern = new RegExp(`^\\.${escapeForRegExp(basename(path))}\\.[0-9a-f]{${TEMP_RANDOM_BYTES * 2}}\\.tmp$`);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return 0; // no folder yet: nothing was ever written
  }
  const uid = process.getuid?.();
  let swept = 0;
  for (const name of names) {
    if (!pattern.test(name)) continue;
    const temp = join(dir, name);
    try {
      const st = lstatSync(temp);
      if (!st.isFile() || (uid !== undefined && st.uid !== uid) || now - st.mtimeMs < STALE_TEMP_AGE_MS) continue;
      unlinkSync(temp);
      swept++;
    } catch {
      // Gone already (another sweeper), or not ours to remove.
    }
  }
  return swept;
}

/** Makes a rename or create in `dir` durable. */
export function fsyncDirectory(dir: string): void {
  const fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
