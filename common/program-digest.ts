import { createHash } from 'node:crypto';
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { ADDON_FILE } from '../native/loader';

export interface ProgramFile {
  /** The name it is installed under (the digest covers names, so a renamed file is a different program). */
  name: string;
  path: string;
}

/**
 * The files that make up the helper program, given its entry (the single
 * executable, or the JS bundle a root-owned Node runs): what the installer
 * copies, and what the app compares with the copy it bundles. One list, so
 * both sides hash the same files under the same names.
 */
export function helperProgramFiles(entry: string, addon: string = join(dirname(entry), ADDON_FILE)): ProgramFile[] {
  return [
    { name: basename(entry), path: entry },
    { name: ADDON_FILE, path: addon },
  ];
}

const CHUNK = 1024 * 1024;

/**
 * sha256 over every file's name, size and bytes, in name order. A version
 * number says which release a helper claims to be; this says which bytes it
 * is, so a rebuilt or re-signed helper with an unchanged version is still
 * seen as different (an update the version alone would miss).
 */
export function programDigest(files: readonly ProgramFile[]): string {
  const hash = createHash('sha256');
  const buffer = Buffer.allocUnsafe(CHUNK);
  for (const file of [...files].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const fd = openSync(file.path, 'r');
    try {
      const size = fstatSync(fd).size;
      hash.update(`${file.name}\0${size}\0`);
      let read = 0;
      for (let n; (n = readSync(fd, buffer, 0, CHUNK, read)) > 0; read += n) hash.update(buffer.subarray(0, n));
      // A file that changed length while we read it is not one program: say so rather than hash a mix.
      if (read !== size) throw new Error(`${file.path} changed while it was read`);
    } finally {
      closeSync(fd);
    }
  }
  return hash.digest('hex');
}

/** The short form shown to people and kept in settings (first 12 hex digits: 48 bits, plenty to tell builds apart). */
export function shortDigest(digest: string): string {
  return digest.slice(0, 12);
}
