import { connect } from 'node:net';

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
