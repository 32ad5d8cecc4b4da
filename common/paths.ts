/**
 * Fixed system paths, defined once. The helper never takes a path from a
 * request; these constants (and the root-owned config the installer writes
 * from them) are the only source. Every path is spelled without symlinks: on
 * macOS /etc and /var are links into /private, and the helper's no-follow
 * walks refuse any symlinked directory.
 */

/** The hosts file the helper keeps Berth's block in. Fixed: never from config or a request. */
export function hostsPath(platform: NodeJS.Platform = process.platform): string {
  return platform === 'darwin' ? '/private/etc/hosts' : '/etc/hosts';
}

export const HOSTS_PATH = hostsPath();

/** The service label (launchd) and unit name (systemd). */
export const SERVICE_LABEL = 'dev.berth.helper';

/** Where an install puts everything; the install record lists what it actually created. */
export interface InstallLayout {
  /** Root-owned directory holding the helper program and its native addon. */
  helperDir: string;
  /** The installed helper's settings (root-owned JSON, read by `serve --config`). */
  configPath: string;
  /** Marks a machine installed with `install --user=NAME`: no helper, one account. */
  userModePath: string;
  /** Root-owned 0755 state: the policy cache, the link record, the install record. */
  stateDir: string;
  /** Root-owned 0755: the audit log and the helper's own output ({@link helperLogPath}). */
  logDir: string;
  auditLogPath: string;
  /** Root-owned directory that holds the helper's socket; it must exist whenever the service manager binds. */
  socketDir: string;
  socketPath: string;
  /** Standalone mode (no service manager): the detached helper's pid. */
  pidPath: string;
}

export function installLayout(platform: NodeJS.Platform = process.platform): InstallLayout {
  if (platform === 'darwin') {
    const support = `/Library/Application Support/${SERVICE_LABEL}`;
    return {
      helperDir: `/Library/PrivilegedHelperTools/${SERVICE_LABEL}`,
      configPath: `${support}/helper.json`,
      userModePath: `${support}/user-mode.json`,
      stateDir: `${support}/state`,
      logDir: '/Library/Logs/Berth',
      auditLogPath: '/Library/Logs/Berth/audit.log',
      // Not in a folder under /var/run: macOS empties /var/run at boot, and
      // nothing would recreate the folder before launchd binds the socket
      // (launchd.plist(5) does not say it creates a missing parent, and the
      // open-source launchctl that bound these sockets did not), so after a
      // reboot the helper would be unreachable. Nor directly in /var/run, as
      // Docker and podman do: it is root:daemon 0775, and the installer and
      // the helper keep one rule for the socket's folder (root's alone, see
      // docs/SECURITY.md T2) with no exception to get wrong. /private/var/db
      // persists, is root:wheel 0755, and holds daemons' own folders by
      // reverse-DNS name. launchd unlinks a leftover socket node before it
      // binds at each load, boot included (.github/workflows/macos.yml checks).
      socketDir: `/private/var/db/${SERVICE_LABEL}`,
      socketPath: `/private/var/db/${SERVICE_LABEL}/helper.sock`,
      // Standalone mode only, which macOS never uses (launchd is always there).
      pidPath: `/private/var/db/${SERVICE_LABEL}/helper.pid`,
    };
  }
  return {
    helperDir: '/usr/local/libexec/berth',
    configPath: '/etc/berth/helper.json',
    userModePath: '/etc/berth/user-mode.json',
    stateDir: '/var/lib/berth',
    logDir: '/var/log/berth',
    auditLogPath: '/var/log/berth/audit.log',
    socketDir: '/run/berth',
    socketPath: '/run/berth/helper.sock',
    pidPath: '/run/berth/helper.pid',
  };
}

/** The helper's own output (stderr) under launchd and in standalone mode; systemd sends it to the journal. */
export const HELPER_LOG_NAME = 'helper.log';

/** Where the helper's output goes: one file in the layout's log folder, so the service definition and the install agree. */
export function helperLogPath(layout: Pick<InstallLayout, 'logDir'>): string {
  return `${layout.logDir}/${HELPER_LOG_NAME}`;
}

export interface SystemPaths {
  socketDir: string;
  socketPath: string;
}

export function systemPaths(platform: NodeJS.Platform = process.platform): SystemPaths {
  const { socketDir, socketPath } = installLayout(platform);
  return { socketDir, socketPath };
}
