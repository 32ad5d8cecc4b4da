import { installLayout } from '../../common/paths';
import { detectServiceManager, type ServiceManager } from '../../common/service-manager';
import { shellCommand } from '../../common/shell-quote';
import { bundledHelperCommand } from '../install/helper-install';
import type { HelperBuilds } from '../install/helper-build';
import { readRegularFile } from './diagnostics/read-file';
import { installUnderWay } from '../../common/install-marker';
import { factsOf, probeHelper, statusFor, type HelperStatus } from './helper-status';

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
  /** The helper's state dir, where an installer under way leaves its marker; default the install layout's. */
  stateDir?: string;
  /** The socket a fresh install will serve on (no config yet); default the install layout's. */
  defaultSocketPath?: string;
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
    return undefined; // the app's own helper is missing: installing again is the fix (the diagnosis says so)
  }
}

/**
 * A status told again from what the install leaves visible: an install or
 * update under way (its marker, common/install-marker.ts) explains a socket
 * that is gone, refuses or hangs up; an installed config explains a socket
 * that is gone or refuses as "not running", with the command that starts it.
 */
export function explainNotRunning(status: HelperStatus, options: InstalledHelperOptions): HelperStatus {
  const condition = status.diagnosis.condition;
  if (condition !== 'not-installed' && condition !== 'not-running' && condition !== 'busy' && condition !== 'error') return status;
  const platform = options.platform ?? process.platform;
  const layout = installLayout(platform);
  const configured = configuredSocket(options.configPath ?? layout.configPath);
  // Only for the installed helper's own socket: a side-by-side one (--helper-socket) is not described by this install.
  const ours = configured === undefined ? status.socketPath === (options.defaultSocketPath ?? layout.socketPath) : configured === status.socketPath;
  if (!ours) return status;
  const rest = factsOf(status);
  const detail = status.diagnosis.detail;
  if (installUnderWay(options.stateDir ?? layout.stateDir)) return statusFor(rest, 'upgrading', { detail });
  if (condition === 'busy' || condition === 'error' || configured === undefined) return status;
  const manager = options.serviceManager ?? detectServiceManager(platform);
  return statusFor(rest, 'not-running', { detail, serviceManager: manager, startCommand: startCommand(options) ?? null });
}
