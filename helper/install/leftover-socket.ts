import { basename, dirname } from 'node:path';
import { statAt, unlinkAt } from '../../native';
import { withTrustedDirectory } from '../../common/fs/trusted-directory';
import { ProtocolError } from '../../common/protocol/errors';

export type LeftoverSocket = { action: 'none' } | { action: 'removed' } | { action: 'kept'; reason: string };

/**
 * Removes the socket node a service manager left at `socketPath` after it
 * unloaded the job (launchd keeps the node in the folder after a bootout).
 * launchd unlinks an old node itself before it binds, but peers have seen
 * that fail after an uninstall and reinstall (unlinkat EINVAL), leaving a
 * dead node that clients find refused; and uninstall must empty the folder
 * before it can remove it. Only a socket goes, found through the folder's fd
 * after checking the folder is root's alone (so nobody else could have put
 * anything there or swap it now); anything else at the path is kept and said.
 */
export function removeLeftoverSocket(socketPath: string): LeftoverSocket {
  try {
    return withTrustedDirectory(dirname(socketPath), (dir): LeftoverSocket => {
      const name = basename(socketPath);
      const st = statAt(dir.fd, name);
      if (st === null) return { action: 'none' };
      if (st.type !== 'socket') return { action: 'kept', reason: `is a ${st.type}, not a socket` };
      unlinkAt(dir.fd, name);
      return { action: 'removed' };
    });
  } catch (error) {
    // No folder: no node in it either.
    if (error instanceof ProtocolError && error.code === 'NOT_FOUND') return { action: 'none' };
    throw error;
  }
}
