import { lstatSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { errnoCode } from '../../common/errno';
import { clearStaleSocket } from '../../common/socket-probe';

/**
 * Makes the socket path ready to listen on, or throws a message for the
 * operator. The directory must be root's alone: if anyone else could write
 * it, they could swap our socket for theirs between our checks and the
 * client's connect, and the uid checks would be talking to the wrong peer.
 */
export async function prepareSocketPath(socketPath: string): Promise<void> {
  const dir = dirname(socketPath);
  ensureTrustedDirectory(dir);
  await clearStaleSocket(socketPath, `another helper is already serving on ${socketPath}; stop it first`);
}

function ensureTrustedDirectory(dir: string): void {
  let st;
  try {
    st = lstatSync(dir);
  } catch (error) {
    if (errnoCode(error) !== 'ENOENT') throw error;
    mkdirSync(dir, { mode: 0o755 });
    st = lstatSync(dir);
  }
  if (!st.isDirectory()) {
    throw new Error(`socket directory ${dir} is not a directory (or is a symlink)`);
  }
  const uid = process.getuid?.() ?? 0;
  if (st.uid !== uid) {
    throw new Error(`socket directory ${dir} must be owned by uid ${uid}, not ${st.uid}`);
  }
  if ((st.mode & 0o022) !== 0) {
    throw new Error(`socket directory ${dir} must not be group- or world-writable`);
  }
}
