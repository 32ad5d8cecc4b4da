import { installLayout } from '../../common/paths';
import { detectServiceManager, type ServiceManager } from '../../common/service-manager';
import { shellCommand } from '../../common/shell-quote';
import { bundledHelperCommand } from '../install/helper-install';
import type { HelperBuilds } from '../install/helper-build';
import { readRegularFile } from './diagnostics/read-file';
import { probeHelper, type HelperStatus } from './helper-status';

/**
 * The helper's status as the user should read it: probeHelper asks the
 * socket, and when nothing answers there this looks at the install itself.
 * A socket that is gone does not mean "not installed" when the config is
 * there: after a reboot a standalone helper is simply not running (/run is
 * emptied and nothing starts it at boot), and the fix is a command, not a
 * reinstall.
 */
export interface InstalledHelperOptions {
  socketPath: string;
  userModePath?: string;
  /** The installed helper's config (root-owned, world-readable): its presence says "installed". */
  configPath?: string;
  platform?: NodeJS.Platform;
  /** What runs the helper here; default: detected. */
  serviceManager?: ServiceManager;
  /** The root command that starts it (`berth-helper start`); default: the bundled helper's. */
  startCommand?: () => string[];
  /** The installed and bundled helpers' digests, to tell a rebuild with the same version (main/install/helper-build.ts). */
  builds?: HelperBuilds;
}

export async function probeInstalledHelper(options: InstalledHelperOptions): Promise<HelperStatus> {
  return explainNotRunning(await probeHelper(options.socketPath, options.userModePath, options.builds), options);
}

/** The socket path the installed config names, or undefined when none is installed (or it cannot be read). */
function configuredSocket(configPath: string): string | undefined {
  try {
    const config = JSON.parse(readRegularFile(configPath, { maxBytes: 64 * 1024 }).bytes.toString('utf8')) as { socketPath?: unknown };
    return typeof config.socketPath === 'string' ? config.socketPath : undefined;
  } catch {
    return undefined;
  }
}

function startCommand(options: InstalledHelperOptions): string | undefined {
  try {
    return shellCommand(['sudo', ...(options.startCommand ?? bundledHelperCommand)(), 'start']);
  } catch {
    return undefined; // the app's own helper is missing: reinstalling Berth is the fix, said elsewhere
  }
}

/** A not-installed or not-running status, told again when the install says otherwise. */
export function explainNotRunning(status: HelperStatus, options: InstalledHelperOptions): HelperStatus {
  if (status.state !== 'not-installed' && status.state !== 'not-running') return status;
  const platform = options.platform ?? process.platform;
  // Only for the installed helper's own socket: a side-by-side one (--helper-socket) is not described by this install.
  if (configuredSocket(options.configPath ?? installLayout(platform).configPath) !== status.socketPath) return status;
  const command = startCommand(options);
  const fix = command === undefined ? 'install the helper again to start it' : `start it with: ${command}`;
  const manager = options.serviceManager ?? detectServiceManager(platform);
  const message =
    manager === 'standalone'
      ? `the helper is installed but not running: this machine has no service manager, so nothing starts it at boot; ${fix}`
      : `the helper is installed but its socket is not listening (${manager === 'systemd' ? 'systemd' : 'launchd'} normally keeps it); ${fix}`;
  return { ...status, state: 'not-running', message };
}
