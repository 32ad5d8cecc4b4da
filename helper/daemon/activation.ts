import { closeSync } from 'node:fs';
import { errnoCode } from '../../common/errno';
import { launchActivateSocket } from '../../native';
import { LAUNCHD_SOCKET_NAME } from '../install/service/paths';

/**
 * Socket activation: the listening socket a service manager bound for the
 * helper, or undefined when none did (the helper then binds its own). The
 * service manager creates the socket with the owner and mode of the service
 * definition and removes it itself; the helper never binds a second one
 * beside it, which would find the manager's answering and refuse to start.
 */
export interface ActivationSources {
  platform: NodeJS.Platform;
  /** Read, and cleared of the systemd variables once they are taken. */
  env: NodeJS.ProcessEnv;
  pid: number;
  /** launch_activate_socket(3) (native/launchd.ts). */
  launchActivateSocket: (name: string) => number[];
}

function processSources(): ActivationSources {
  return { platform: process.platform, env: process.env, pid: process.pid, launchActivateSocket };
}

/** systemd's first passed fd (sd_listen_fds(3)). */
export const SD_LISTEN_FDS_START = 3;

/** systemd (Linux): LISTEN_FDS, counted only when LISTEN_PID names this very process. */
function systemdFd(env: NodeJS.ProcessEnv, pid: number): number | undefined {
  const { LISTEN_PID, LISTEN_FDS } = env;
  if (LISTEN_PID !== String(pid) || LISTEN_FDS === undefined) return undefined;
  // One socket is all the unit passes; more would be a misconfiguration we refuse to guess about.
  if (LISTEN_FDS !== '1') throw new Error(`expected one socket from the service manager, got LISTEN_FDS=${LISTEN_FDS}`);
  // Not for our children: a process we start must not think the socket is its own.
  delete env.LISTEN_PID;
  delete env.LISTEN_FDS;
  return SD_LISTEN_FDS_START;
}

/**
 * launchd (macOS): the plist's Sockets.Listener, taken with
 * launch_activate_socket. ESRCH (not started by launchd: run by hand) and
 * ENOENT (a launchd job without that socket) mean "no socket for us", as no
 * LISTEN_FDS does under systemd. Anything else is a broken install, said in
 * one line rather than papered over by binding a socket of our own.
 */
function launchdFd(take: (name: string) => number[]): number | undefined {
  let fds: number[];
  try {
    fds = take(LAUNCHD_SOCKET_NAME);
  } catch (error) {
    const code = errnoCode(error);
    if (code === 'ESRCH' || code === 'ENOENT') return undefined;
    throw new Error(`cannot take the socket launchd holds for the helper (${(error as Error).message}); reinstall the helper`);
  }
  const [fd, ...extra] = fds;
  if (fd === undefined || extra.length > 0) {
    // A UNIX socket path gives exactly one; a count we did not ask for is a plist we did not write.
    for (const each of fds) closeSync(each);
    throw new Error(`expected one socket from launchd under Sockets.${LAUNCHD_SOCKET_NAME}, got ${fds.length}; reinstall the helper`);
  }
  return fd;
}

/** The service manager's listening fd for this process, or undefined. */
export function activationFd(sources: ActivationSources = processSources()): number | undefined {
  return sources.platform === 'darwin' ? launchdFd(sources.launchActivateSocket) : systemdFd(sources.env, sources.pid);
}
