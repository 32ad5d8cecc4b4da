import { existsSync } from 'node:fs';

/** What runs the helper on this machine. */
export type ServiceManager = 'systemd' | 'launchd' | 'standalone';

/**
 * launchd on macOS; systemd where it runs as init (its runtime dir exists);
 * otherwise none, and the helper runs standalone. The installer picks the
 * mode with it, and the app uses it to say what starts the helper (and what
 * does not, after a reboot).
 */
export function detectServiceManager(platform: NodeJS.Platform = process.platform, systemdRuntimeDir = '/run/systemd/system'): ServiceManager {
  if (platform === 'darwin') return 'launchd';
  return existsSync(systemdRuntimeDir) ? 'systemd' : 'standalone';
}
