import { closeSync, constants, existsSync, fstatSync, linkSync, openSync, readSync, renameSync, unlinkSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { mappingId, mappingsFile, type MappingSpec } from '../../../common/ports/mapping';
import { errnoCode } from '../../../common/errno';
import { ensurePrivateDirectory, sweepStaleTemps, writeFileAtomic } from '../fs/user-file';

/**
 * The saved port mappings (mappings.json in the user's config dir): what
 * comes back after a restart. Written atomically; a file that cannot be
 * understood is kept aside, never overwritten, and the user is told.
 */

export interface LoadedMappings {
  mappings: MappingSpec[];
  /** Set when something was wrong with the file: one or two sentences for the user. */
  notice?: string;
}

/** Far above 1000 mappings' worth of JSON; a bigger file is not ours. */
const MAX_FILE_BYTES = 1024 * 1024;

/** Reads at most MAX_FILE_BYTES + 1, without following a symlink planted at the name. */
function readLimited(path: string): Buffer | undefined {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return undefined;
    throw error;
  }
  try {
    if (!fstatSync(fd).isFile()) throw Object.assign(new Error(`${path} is not a regular file`), { code: 'EFTYPE' });
    const buffer = Buffer.alloc(MAX_FILE_BYTES + 1);
    let length = 0;
    for (;;) {
      const n = readSync(fd, buffer, length, buffer.length - length, null);
      if (n === 0 || (length += n) === buffer.length) break;
    }
    return buffer.subarray(0, length);
  } finally {
    closeSync(fd);
  }
}

/** What is wrong with the file's bytes, or the mappings in it. */
function parse(bytes: Buffer): { mappings: MappingSpec[] } | { problem: string } {
  if (bytes.length > MAX_FILE_BYTES) return { problem: 'it is larger than 1 MiB' };
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch {
    return { problem: 'it is not valid JSON' };
  }
  const checked = mappingsFile.safeParse(json);
  if (!checked.success) {
    const issue = checked.error.issues[0];
    const where = issue && issue.path.length > 0 ? ` at ${issue.path.join('.')}` : '';
    return { problem: `it does not match the expected format${where} (${issue?.message ?? 'invalid'})` };
  }
  return { mappings: checked.data.mappings };
}

/** `mappings.json.corrupt-2025-01-02T03-04-05-678Z` (a suffix if that name is taken). */
function setAside(path: string, now: Date): string {
  const stamp = now.toISOString().replace(/[:.]/g, '-');
  for (let n = 0; ; n++) {
    const aside = `${path}.corrupt-${stamp}${n === 0 ? '' : `-${n}`}`;
    try {
      // link + unlink: never replaces an existing file (rename would).
      linkSync(path, aside);
      unlinkSync(path);
      return aside;
    } catch (error) {
      if (errnoCode(error) === 'EEXIST' && n < 100) continue;
      if (errnoCode(error) !== 'EPERM' || existsSync(aside)) throw error;
    }
    // A directory cannot be hard-linked: rename it to the (checked) free name instead.
    renameSync(path, aside);
    return aside;
  }
}

/**
 * The saved mappings, or none. Missing file: none, quietly. A file that is
 * not valid JSON or not in the expected format: kept aside as
 * `mappings.json.corrupt-<timestamp>`, none loaded, and a notice says so.
 * A file that cannot be read at all (permissions) throws: starting empty
 * would overwrite it on the next save.
 */
export function loadMappings(path: string, now: () => Date = () => new Date()): LoadedMappings {
  // What an interrupted save left (a crash between write and rename): never the file itself.
  sweepStaleTemps(path);
  let bytes: Buffer | undefined;
  try {
    bytes = readLimited(path);
  } catch (error) {
    if (errnoCode(error) === 'ELOOP' || errnoCode(error) === 'EFTYPE') {
      // A symlink or a directory at the name: not a file we wrote. Set it aside like a corrupt one.
      return corrupt(path, 'it is not a regular file', now);
    }
    throw new Error(`cannot read the saved port mappings at ${path} (${errnoCode(error) ?? (error as Error).message})`);
  }
  if (bytes === undefined) return { mappings: [] };
  const parsed = parse(bytes);
  if ('problem' in parsed) return corrupt(path, parsed.problem, now);
  // A hand-edited file may list one address and port twice; one listener per port, the first wins.
  const seen = new Set<string>();
  const mappings: MappingSpec[] = [];
  const duplicates: string[] = [];
  for (const spec of parsed.mappings) {
    const id = mappingId(spec);
    if (seen.has(id)) duplicates.push(id);
    else {
      seen.add(id);
      mappings.push(spec);
    }
  }
  if (duplicates.length > 0) {
    return { mappings, notice: `${basename(path)} listed ${duplicates.join(', ')} more than once; the first of each was kept.` };
  }
  return { mappings };
}

function corrupt(path: string, problem: string, now: () => Date): LoadedMappings {
  const aside = setAside(path, now());
  return {
    mappings: [],
    notice: `Your saved port mappings could not be read (${problem}), so Berth started with none; the file was kept as ${basename(aside)}.`,
  };
}

/** Replaces the file with `mappings` (atomically; the directory is made private if missing). */
export function saveMappings(path: string, mappings: readonly MappingSpec[]): void {
  const file = mappingsFile.parse({ version: 1, mappings: mappings.map((m) => ({ ...m, target: { ...m.target } })) });
  ensurePrivateDirectory(dirname(path));
  writeFileAtomic(path, JSON.stringify(file, null, 2) + '\n');
}
