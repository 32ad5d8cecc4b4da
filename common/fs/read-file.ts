import { readWhole } from '../read-fd';
import { closeSync, fstatSync } from 'node:fs';
import { openFileAt } from '../../native';
import type { TrustedDirectory } from './trusted-directory';

/** Reads a regular file in a trusted directory without following a link; null when absent. */
export function readFileAt(dir: TrustedDirectory, name: string, maxBytes = 1024 * 1024): Buffer | null {
  let fd: number;
  try {
    fd = openFileAt(dir.fd, name, 'read');
  } catch (error) {
    if ((error as { code?: string }).code === 'ENOENT') return null;
    throw error;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new Error(`${dir.path}/${name} is not a regular file`);
    if (st.size > maxBytes) throw new Error(`${dir.path}/${name} is larger than ${maxBytes} bytes`);
    return readWhole(fd, st.size);
  } finally {
    closeSync(fd);
  }
}
