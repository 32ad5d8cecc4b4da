import { closeSync } from 'node:fs';
import { errnoCode } from '../../common/errno';
import { launchActivateSocket } from '../../native';
import { LAUNCHD_SOCKET_NAME } from '../install/service/paths';

/**
 * Socket activation: the listening socket handed to the helper by whoever
 * started it, or undefined when none was (the helper then binds its own). The
 * holder created the socket with the owner and mode of its definition and
 * removes it itself; the helper never binds a second one beside it, which
 * would find the holder's answering and refuse to start.
 *
 * Whether the helper may exit when idle depends on one thing only: will the
 * holder start it again on the next connection? systemd's .socket units and
 * launchd's Sockets do; Berth's standalone supervisor
 * (helper/install/supervisor.ts) restarts it only after a crash, so under it
 * the helper stays up.
 */
export interface ActivatedSocket {
  fd: number;
  /** Who holds the socket, for the start-up and idle-exit log lines. */
  holder: string;
  /** The holder starts the helper again on the next connection: idle exit is safe. */
  startsOnDemand: boolean;
}

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

/** systemd's first passed fd (sd_listen_fds(3)); the standalone supervisor passes it there too. */
export const SD_LISTEN_FDS_START = 3;

/**
 * The name (LISTEN_FDNAMES, as systemd's FileDescriptorName=) by which the
 * standalone supervisor marks its socket: same protocol as systemd, but
 * nothing would start the helper again after an idle exit.
 */
export const STANDALONE_FD_NAME = 'berth-standalone';

/**
 * systemd (Linux) or the standalone supervisor: LISTEN_FDS, counted only when
 * LISTEN_PID names this very process (they may have leaked from a parent);
 * removed either way so nothing this process starts sees them.
 */
function listenFds(env: NodeJS.ProcessEnv, pid: number): ActivatedSocket | undefined {
  const { LISTEN_PID, LISTEN_FDS, LISTEN_FDNAMES } = env;
  delete env.LISTEN_PID;
  delete env.LISTEN_FDS;
  delete env.LISTEN_FDNAMES;
  if (LISTEN_PID !== String(pid) || LISTEN_FDS === undefined) return undefined;
  // One socket is all the unit passes; more would be a misconfiguration we refuse to guess about.
  if (LISTEN_FDS !== '1') throw new Error(`expected one socket from the service manager, got LISTEN_FDS=${LISTEN_FDS}`);
  if (LISTEN_FDNAMES === STANDALONE_FD_NAME) {
    return { fd: SD_LISTEN_FDS_START, holder: 'the standalone supervisor', startsOnDemand: false };
  }
  return { fd: SD_LISTEN_FDS_START, holder: 'the service manager', startsOnDemand: true };
}

/**
 * launchd (macOS): the plist's Sockets.Listener, taken with
 * launch_activate_socket. ESRCH (not started by launchd: run by hand) and
 * ENOENT (a launchd job without that socket) mean "no socket for us", as no
 * LISTEN_FDS does under systemd. Anything else is a broken install, said in
 * one line rather than papered over by binding a socket of our own.
 */
function launchdSocket(take: (name: string) => number[]): ActivatedSocket | undefined {
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
  return { fd, holder: 'launchd', startsOnDemand: true };
}

/** The socket handed to this process, if any. */
export function activatedSocket(sources: ActivationSources = processSources()): ActivatedSocket | undefined {
  return sources.platform === 'darwin' ? launchdSocket(sources.launchActivateSocket) : listenFds(sources.env, sources.pid);
}

/** The handed-over listening fd alone (see {@link activatedSocket}). */
export function activationFd(sources: ActivationSources = processSources()): number | undefined {
  return activatedSocket(sources)?.fd;
}
