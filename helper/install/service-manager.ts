import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { SERVICE_LABEL, type InstallLayout } from '../../common/paths';
import { writeFileAtomically } from '../fs/atomic-write';
import { withTrustedDirectory } from '../../common/fs/trusted-directory';
import type { Log } from './install';
import { preflightRootDirectory } from './root-dirs';
import { launchdPlist, SERVICE_FILES, systemdServiceUnit, systemdSocketUnit, type ServiceSpec } from './service';
import { startStandalone, stopStandalone } from './standalone';

export type ServiceManager = 'systemd' | 'launchd' | 'standalone';

/** launchd on macOS; systemd where it runs as init (its runtime dir exists); otherwise none. */
export function detectServiceManager(): ServiceManager {
  if (process.platform === 'darwin') return 'launchd';
  return existsSync('/run/systemd/system') ? 'systemd' : 'standalone';
}

function run(command: string, args: string[], log: Log): void {
  execFileSync(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  log(`ran ${command} ${args.join(' ')}`);
}

function writeRootFile(path: string, content: string, log: Log): void {
  withTrustedDirectory(dirname(path), (dir) => writeFileAtomically(dir, basename(path), Buffer.from(content), { mode: 0o644 }));
  log(`wrote ${path} (root, 0644)`);
}

/** The service-definition files for this manager (for preflight and the install record). */
export function serviceFiles(manager: ServiceManager): string[] {
  if (manager === 'systemd') return [SERVICE_FILES.systemdSocket(SERVICE_LABEL), SERVICE_FILES.systemdService(SERVICE_LABEL)];
  if (manager === 'launchd') return [SERVICE_FILES.launchd(SERVICE_LABEL)];
  return [];
}

export function preflightService(manager: ServiceManager): void {
  for (const file of serviceFiles(manager)) preflightRootDirectory(dirname(file));
}

/**
 * Registers and starts the helper. systemd and launchd own the socket and
 * start the helper on the first connection (nothing runs while idle); without
 * a service manager the helper is started detached and says so.
 */
export async function startService(manager: ServiceManager, spec: ServiceSpec, layout: InstallLayout, log: Log): Promise<void> {
  if (manager === 'systemd') {
    writeRootFile(SERVICE_FILES.systemdSocket(spec.label), systemdSocketUnit(spec), log);
    writeRootFile(SERVICE_FILES.systemdService(spec.label), systemdServiceUnit(spec), log);
    run('systemctl', ['daemon-reload'], log);
    // An upgrade: the next connection must start the new program, not the old one still running.
    run('systemctl', ['stop', `${spec.label}.service`], log);
    run('systemctl', ['enable', `${spec.label}.socket`], log);
    // restart, not start: systemd applies SocketUser=/SocketMode= only when it creates the socket, and an
    // upgrade from a one-user install must replace that user's 0600 socket with the root-owned 0666 one.
    run('systemctl', ['restart', `${spec.label}.socket`], log);
    log(`systemd: ${spec.label}.socket listens on ${spec.socketPath}; the helper starts on first use`);
    return;
  }
  if (manager === 'launchd') {
    const plist = SERVICE_FILES.launchd(spec.label);
    writeRootFile(plist, launchdPlist(spec), log);
    try {
      run('launchctl', ['bootout', `system/${spec.label}`], log);
    } catch {
      // Not loaded yet: a first install.
    }
    run('launchctl', ['bootstrap', 'system', plist], log);
    log(`launchd: ${spec.label} listens on ${spec.socketPath}; the helper starts on first use`);
    return;
  }
  const pid = await startStandalone(spec.helperCommand, layout);
  log(`standalone mode (no service manager found): started the helper, pid ${pid}, on ${spec.socketPath}`);
}

/** Stops the helper however it runs; removing the definitions is the install record's job. */
export async function stopService(manager: ServiceManager, layout: InstallLayout, log: Log): Promise<void> {
  if (manager === 'systemd' && existsSync(SERVICE_FILES.systemdSocket(SERVICE_LABEL))) {
    run('systemctl', ['disable', '--now', `${SERVICE_LABEL}.socket`, `${SERVICE_LABEL}.service`], log);
  } else if (manager === 'launchd' && existsSync(SERVICE_FILES.launchd(SERVICE_LABEL))) {
    try {
      run('launchctl', ['bootout', `system/${SERVICE_LABEL}`], log);
    } catch {
      // Already unloaded.
    }
  }
  const stopped = await stopStandalone(layout);
  log(stopped !== undefined ? `stopped the helper (pid ${stopped})` : 'no standalone helper was running');
}
