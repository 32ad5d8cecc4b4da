import { statSync } from 'node:fs';
import { readInstallRecord } from '../../common/install-record';
import { installLayout } from '../../common/paths';
import { helperProgramFiles, programDigest, shortDigest, type ProgramFile } from '../../common/program-digest';
import { bundledHelperCommand, elevatedFiles } from './helper-install';

/**
 * Which build of the helper is installed, and which one this app bundles,
 * by content: a rebuilt or re-signed helper keeps its version number, so
 * only the bytes tell an update apart. Neither side wakes the helper: the
 * installer recorded its digest in the root-owned, world-readable install
 * record, and the bundled files are read here.
 */

/** The bundled program's files, named as the installer names them (common/program-digest.ts). */
export function bundledProgramFiles(helper: readonly string[] = bundledHelperCommand()): ProgramFile[] {
  const entry = helper.at(-1);
  const addon = elevatedFiles(helper).at(-1);
  if (entry === undefined || addon === undefined) throw new Error('no bundled helper');
  return helperProgramFiles(entry, addon);
}

/** The installed and bundled helpers' digests; either may be unknown. */
export interface HelperBuilds {
  installed?: string;
  bundled?: string;
}

let cached: { key: string; digest: string } | undefined;

/** What identifies the files' content without reading it: re-hash (~100 MB for a single executable) only when this changes. */
function identity(files: readonly ProgramFile[]): string {
  return files
    .map((file) => {
      const st = statSync(file.path);
      return `${file.name}:${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
    })
    .join('|');
}

/** The bundled helper's digest; undefined when it cannot be read (the install itself reports a missing helper). */
export function bundledHelperDigest(files?: readonly ProgramFile[]): string | undefined {
  try {
    const list = files ?? bundledProgramFiles();
    const key = identity(list);
    if (cached?.key !== key) cached = { key, digest: programDigest(list) };
    return cached.digest;
  } catch {
    return undefined;
  }
}

/** The installed helper's digest, as its installer recorded it; undefined for an install older than the record field. */
export function installedHelperDigest(stateDir: string): string | undefined {
  return readInstallRecord(stateDir)?.programSha256;
}

/**
 * One sentence when the installed helper has the bundled version but other
 * bytes; undefined when they match, or when either digest is unknown (an
 * older install that recorded none: its version already decides).
 */
export function buildMismatch(installed: string | undefined, bundled: string | undefined, version: string): string | undefined {
  if (installed === undefined || bundled === undefined || installed === bundled) return undefined;
  return `the installed helper ${version} is a different build (${shortDigest(installed)}) from the one this Berth bundles (${shortDigest(bundled)})`;
}

/** Both digests for this machine's install; the bundled files are read (and hashed) only when there is an installed digest to compare with. */
export function helperBuilds(platform: NodeJS.Platform = process.platform): HelperBuilds {
  return helperBuildsAt(installLayout(platform).stateDir);
}

/** The same, for the install whose state (and install record) is in `stateDir`. */
export function helperBuildsAt(stateDir: string): HelperBuilds {
  const installed = installedHelperDigest(stateDir);
  const bundled = installed === undefined ? undefined : bundledHelperDigest();
  return { ...(installed !== undefined ? { installed } : {}), ...(bundled !== undefined ? { bundled } : {}) };
}
