import { chmodSync, lchownSync, lstatSync, mkdirSync } from 'node:fs';
import type { Server } from 'node:net';
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

/**
 * Binds `server` to a new socket file at `path` that only `ownerUid` (and
 * root) may connect to, and resolves with the file's inode. One definition
 * for the helper's own socket and the standalone supervisor's.
 */
export async function listenOnSocketFile(server: Server, path: string, ownerUid: number): Promise<number> {
  // umask so the socket is never, even for an instant, connectable by others.
  const previous = process.umask(0o177);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } finally {
    process.umask(previous);
  }
  chmodSync(path, 0o600);
  lchownSync(path, ownerUid, lstatSync(path).gid);
  return lstatSync(path).ino;
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
