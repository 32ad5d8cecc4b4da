/**
 * Fixed system paths, defined once. The helper never takes a path from a
 * request; these constants (and the root-owned config) are the only source.
 */
/**
 * The hosts file the helper keeps Berth's block in. Fixed: never from config
 * or a request. Spelled without symlinks: on macOS /etc is a (root-owned)
 * link to /private/etc, and the helper's no-follow walk refuses any symlink.
 */
export function hostsPath(platform: NodeJS.Platform = process.platform): string {
  return platform === 'darwin' ? '/private/etc/hosts' : '/etc/hosts';
}

export const HOSTS_PATH = hostsPath();

export interface SystemPaths {
  /** Root-owned directory that holds the helper's socket. */
  socketDir: string;
  socketPath: string;
}

export function systemPaths(platform: NodeJS.Platform = process.platform): SystemPaths {
  const socketDir = platform === 'darwin' ? '/var/run/berth' : '/run/berth';
  return { socketDir, socketPath: `${socketDir}/helper.sock` };
}
