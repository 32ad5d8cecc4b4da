import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, lchownSync, linkSync, lstatSync, mkdirSync, renameSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { dirname, join } from 'node:path';
import { listeningFd } from './socket-fd';
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
/** The socket's mode: anyone may connect, as to the D-Bus system bus; the helper's peer check decides who is served. */
export const SOCKET_MODE = 0o666;

export async function listenOnSocketFile(server: Server, path: string): Promise<number> {
  // umask so the socket is never, even for an instant, connectable before it is root's.
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
  lchownSync(path, 0, 0);
  chmodSync(path, SOCKET_MODE);
  return lstatSync(path).ino;
}

/**
 * A socket held by another process, as a service manager holds one: creates
 * the socket file at `path` (as listenOnSocketFile), hands
 * its listening fd to the process `start` spawns (as fd 3, say) and keeps no
 * copy. All in one turn of the event loop after the listen, so this process
 * never accepts a connection meant for the child. Closing our copy makes
 * libuv unlink the path it bound: a second name keeps the file through that
 * (synchronous) unlink and is renamed back at once. Bound at its final path
 * on purpose: the kernel names a socket by the path it was bound to (in
 * /proc/net/unix, where the app sees whether anything listens there).
 * Make way first (prepareSocketPath).
 */
export async function handOffSocket<T extends ChildProcess>(path: string, start: (fd: number) => T): Promise<T> {
  const server = createServer();
  try {
    await listenOnSocketFile(server, path);
    const child = start(listeningFd(server));
    const keep = join(dirname(path), `.${randomBytes(4).toString('hex')}`);
    linkSync(path, keep);
    server.close();
    renameSync(keep, path);
    return child;
  } finally {
    // On failure: the listener goes, and libuv unlinks the file it bound (nobody holds it).
    if (server.listening) server.close();
  }
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
