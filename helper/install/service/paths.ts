import { helperLogPath, installLayout } from '../../../common/paths';
import { LABEL_PATTERN } from './spec';

/** Checked again here: a label like '../x' must never be joined into a root-written path. */
function checked(label: string): string {
  if (!LABEL_PATTERN.test(label)) throw new Error(`invalid service label "${label.slice(0, 80)}": must be reverse-DNS like "dev.berth.helper"`);
  return label;
}

/** Where the service definitions are installed: fixed system locations, only the label varies. */
export const SERVICE_FILES = {
  /** A LaunchDaemon (not an agent): runs as root in the system domain. */
  launchd: (label: string): string => `/Library/LaunchDaemons/${checked(label)}.plist`,
  /** /etc/systemd/system, not /usr/lib/systemd: the admin's place, and it outranks vendor units. */
  systemdSocket: (label: string): string => `/etc/systemd/system/${checked(label)}.socket`,
  systemdService: (label: string): string => `/etc/systemd/system/${checked(label)}.service`,
} as const;

/**
 * The helper's stderr under launchd (systemd sends it to the journal): the
 * macOS layout's log file, from the one layout definition, so the plist
 * names the folder the installer creates (launchd opens the file itself and
 * is not documented to create its folder) and the install record lists.
 */
export const LAUNCHD_LOG_PATH = helperLogPath(installLayout('darwin'));

/**
 * The plist's Sockets key: the contract between the job launchd loads and
 * the helper, which takes the socket with launch_activate_socket(this name).
 */
export const LAUNCHD_SOCKET_NAME = 'Listener';
