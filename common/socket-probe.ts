import { lstatSync, unlinkSync } from 'node:fs';
import { connect } from 'node:net';
import { errnoCode } from './errno';

/** Whether a server accepts connections on the UNIX socket at `socketPath` right now. */
export function somethingAnswers(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = connect(socketPath);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
}

/**
 * Makes way for a server at `socketPath`: nothing there is fine; a socket
 * nobody answers on is a crash's leftover and is removed; a live one throws
 * `whenAlive`. Never deletes something that is not a socket: the path may
 * have been mistyped to point at a file that matters.
 */
export async function clearStaleSocket(socketPath: string, whenAlive: string): Promise<void> {
  let st;
  try {
    st = lstatSync(socketPath);
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return;
    throw error;
  }
  if (!st.isSocket()) throw new Error(`${socketPath} exists and is not a socket; refusing to replace it`);
  if (await somethingAnswers(socketPath)) throw new Error(whenAlive);
  unlinkSync(socketPath);
}
