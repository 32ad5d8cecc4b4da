/**
 * A listening socket handed to the helper by whoever started it, instead of
 * one the helper binds itself. Whether the helper may exit when idle depends
 * on one thing only: will whoever holds the socket start it again on the next
 * connection? systemd's .socket units and launchd's Sockets do; Berth's
 * standalone supervisor (helper/install/supervisor.ts) restarts it only after
 * a crash, so under it the helper stays up.
 */
export interface ActivatedSocket {
  fd: number;
  /** Who holds the socket, for the start-up and idle-exit log lines. */
  holder: string;
  /** The holder starts the helper again on the next connection: idle exit is safe. */
  startsOnDemand: boolean;
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
 * The socket passed by the service manager, if any. The variables count only
 * when LISTEN_PID names this very process (they may have leaked from a
 * parent); they are removed either way so nothing this process starts sees
 * them. (launchd hands its socket over through launch_activate_socket(3),
 * not the environment: that holder plugs in here.)
 */
export function activatedSocket(env: NodeJS.ProcessEnv = process.env, pid: number = process.pid): ActivatedSocket | undefined {
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
