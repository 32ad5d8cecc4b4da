import { userPaths } from '../../common/user-paths';
import { BackendNotRunningError, ControlClient } from '../core/control/client';

/**
 * The running app, through its control socket; undefined when Berth is not
 * running for this user (commands that need no app fall back to doing the
 * work themselves).
 */
export async function connectBackend(socketPath = userPaths().controlSocketPath): Promise<ControlClient | undefined> {
  try {
    return await ControlClient.connect(socketPath);
  } catch (error) {
    if (error instanceof BackendNotRunningError) return undefined;
    throw error;
  }
}

/** Commands that only the running app can do (ports): connect or explain how to start it. */
export async function requireBackend(socketPath = userPaths().controlSocketPath): Promise<ControlClient> {
  return ControlClient.connect(socketPath);
}
