import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { SERVICE_LABEL, type InstallLayout } from '../../common/paths';
import { writeFileAtomically } from '../fs/atomic-write';
import { readFileAt } from '../../common/fs/read-file';
import { withTrustedDirectory } from '../../common/fs/trusted-directory';
import type { Log } from './install';
import { removeLeftoverSocket } from './leftover-socket';
import { preflightRootDirectory } from './root-dirs';
import { launchdPlist, SERVICE_FILES, systemdServiceUnit, systemdSocketUnit, type ServiceSpec } from './service';
import { listed } from './restart';
import { runningStandalone, standaloneAsDefined, startStandalone, stopStandalone } from './standalone';
import type { ServiceManager } from '../../common/service-manager';
import { shellCommand } from '../../common/shell-quote';

export { detectServiceManager, type ServiceManager } from '../../common/service-manager';

/** A command's output (what systemctl show prints). */
function output(command: string, args: string[]): string {
  return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function run(command: string, args: string[], log: Log): void {
  execFileSync(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  log(`ran ${command} ${args.join(' ')}`);
}

/** A yes/no question to a command: its exit status. */
function succeeds(command: string, args: string[]): boolean {
  try {
    execFileSync(command, args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Writes a service definition; says whether it replaced a different one (an upgrade that changes it). */
function writeRootFile(path: string, content: string, log: Log): boolean {
  const replaced = withTrustedDirectory(dirname(path), (dir) => {
    const before = readFileAt(dir, basename(path));
    writeFileAtomically(dir, basename(path), Buffer.from(content), { mode: 0o644 });
    return before !== null && !before.equals(Buffer.from(content));
  });
  log(`wrote ${path} (root, 0644)${replaced ? ', replacing a different one' : ''}`);
  return replaced;
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

/** What startService did with a helper that already ran: `kept` it (pid when known), or not (restarted, or none ran). */
export type ServiceOutcome = { kept: true; pid?: number } | { kept: false };

/**
 * Registers and starts the helper. systemd and launchd own the socket and
 * start the helper on the first connection (nothing runs while idle); without
 * a service manager the helper is started detached and says so.
 *
 * A helper that already runs is restarted only for a reason: `restartFor`
 * (the install's: a changed program, a config field read only at start;
 * restart.ts) or a service definition that changed here. Otherwise it keeps
 * running, and whatever its users have in flight goes on (another user's
 * enrolment needs no restart: the helper follows it in its config).
 */
export async function startService(
  manager: ServiceManager,
  spec: ServiceSpec,
  layout: InstallLayout,
  log: Log,
  restartFor: readonly string[],
): Promise<ServiceOutcome> {
  if (manager !== 'standalone') {
    // A standalone helper from before this machine had a service manager would hold the socket's path.
    const stopped = await stopStandalone(layout);
    if (stopped !== undefined) log(`stopped the standalone helper and its supervisor (pid ${stopped})`);
  }
  if (manager === 'systemd') {
    const socketChanged = writeRootFile(SERVICE_FILES.systemdSocket(spec.label), systemdSocketUnit(spec), log);
    const serviceChanged = writeRootFile(SERVICE_FILES.systemdService(spec.label), systemdServiceUnit(spec), log);
    run('systemctl', ['daemon-reload'], log);
    const why = [...restartFor, ...(serviceChanged ? ['its service unit changed'] : []), ...(socketChanged ? ['its socket unit changed'] : [])];
    // 0 when no helper runs (never started, or exited when idle): the next connection starts the installed one.
    const pid = Number(output('systemctl', ['show', '--property=MainPID', '--value', `${spec.label}.service`]).trim());
    if (why.length === 0) {
      // Nothing stopped, whatever the pid said: a connection may have started the helper since.
      // `enable --now` only makes sure the socket is enabled and listening; a listening one is left as it is.
      run('systemctl', ['enable', '--now', `${spec.label}.socket`], log);
      log(`systemd: ${spec.label}.socket listens on ${spec.socketPath}; ${pid > 0 ? 'its helper keeps running' : 'the helper starts on first use'}`);
      return pid > 0 ? { kept: true, pid } : { kept: false };
    }
    if (pid > 0) log(`restarting the running helper (pid ${pid}): ${listed(why)}`);
    // An upgrade: the next connection must start the new program, not the old one still running.
    // The socket keeps listening meanwhile (connections wait in its backlog)...
    run('systemctl', ['stop', `${spec.label}.service`], log);
    // ...unless its own definition changed: a listening socket keeps the owner, mode and options it
    // was created with until systemd re-creates it, so only a restart puts the new definition in force.
    if (socketChanged) run('systemctl', ['restart', `${spec.label}.socket`], log);
    run('systemctl', ['enable', '--now', `${spec.label}.socket`], log);
    log(`systemd: ${spec.label}.socket listens on ${spec.socketPath}; the helper starts on first use`);
    return { kept: false };
  }
  if (manager === 'launchd') {
    const plist = SERVICE_FILES.launchd(spec.label);
    const why = [...restartFor, ...(writeRootFile(plist, launchdPlist(spec), log) ? ['its launchd job changed'] : [])];
    // Loaded: launchd holds the socket and runs (or will start) the helper this plist defines.
    const loaded = succeeds('launchctl', ['print', `system/${spec.label}`]);
    if (loaded && why.length === 0) {
      log(`launchd: ${spec.label} stays loaded on ${spec.socketPath}`);
      return { kept: true };
    }
    if (loaded) log(`restarting the helper: ${listed(why)}`);
    try {
      run('launchctl', ['bootout', `system/${spec.label}`], log);
    } catch {
      // Not loaded yet: a first install.
    }
    // launchd binds afresh at bootstrap: a node left from the job just unloaded must not be in its way.
    const leftover = removeLeftoverSocket(spec.socketPath);
    if (leftover.action === 'kept') throw new Error(`${spec.socketPath} ${leftover.reason}; move it away and run install again`);
    if (leftover.action === 'removed') log(`removed the old socket ${spec.socketPath}`);
    run('launchctl', ['bootstrap', 'system', plist], log);
    log(`launchd: ${spec.label} listens on ${spec.socketPath}; the helper starts on first use`);
    return { kept: false };
  }
  const running = standaloneAsDefined(layout, spec.helperCommand);
  if (running !== undefined && restartFor.length === 0) return { kept: true, pid: running };
  if (runningStandalone(layout) !== undefined) {
    // Running, but not as this install would start it (another command line, a supervisor in back-off, its socket gone).
    const why = [...restartFor, ...(running === undefined ? ['it does not run as this install would start it'] : [])];
    log(`restarting the running helper: ${listed(why)}`);
    const stopped = await stopStandalone(layout);
    if (stopped !== undefined) log(`stopped the running helper and its supervisor (pid ${stopped})`);
  }
  const pid = await startStandalone(spec.helperCommand, layout);
  log(`standalone mode (no service manager found): started the helper and its supervisor (pid ${pid}), which restarts it if it dies; on ${spec.socketPath}`);
  const program = spec.helperCommand.slice(0, spec.helperCommand.indexOf('serve'));
  log(`nothing starts it at boot here: after this machine restarts, start it with: sudo ${shellCommand([...program, 'start'])}`);
  return { kept: false };
}

/** Stops the helper however it runs; removing the definitions is the install record's job. */
export async function stopService(manager: ServiceManager, layout: InstallLayout, log: Log): Promise<void> {
  if (manager === 'systemd' && existsSync(SERVICE_FILES.systemdSocket(SERVICE_LABEL))) {
    const units = [`${SERVICE_LABEL}.socket`, `${SERVICE_LABEL}.service`];
    run('systemctl', ['disable', '--now', ...units], log);
    // A helper that crashed leaves its unit "failed", and systemd keeps a failed unit (and the
    // machine "degraded") after its file is gone, until told to forget it. (reset-failed
    // refuses a unit systemd has already let go of, so only the failed ones.)
    const failed = units.filter((unit) => succeeds('systemctl', ['is-failed', '--quiet', unit]));
    if (failed.length > 0) run('systemctl', ['reset-failed', ...failed], log);
  } else if (manager === 'launchd' && existsSync(SERVICE_FILES.launchd(SERVICE_LABEL))) {
    try {
      run('launchctl', ['bootout', `system/${SERVICE_LABEL}`], log);
    } catch {
      // Already unloaded.
    }
    // systemd removes its socket (RemoveOnStop=yes); launchd leaves the node, which would keep its folder from going.
    const leftover = removeLeftoverSocket(layout.socketPath);
    if (leftover.action === 'removed') log(`removed the socket ${layout.socketPath}`);
    if (leftover.action === 'kept') log(`kept ${layout.socketPath}: it ${leftover.reason}`);
  }
  const stopped = await stopStandalone(layout);
  log(stopped !== undefined ? `stopped the helper (pid ${stopped})` : 'no standalone helper was running');
}

/** After uninstall removed the service definitions: systemd reloads, so nothing of them stays in its memory. */
export function forgetService(manager: ServiceManager, log: Log): void {
  if (manager === 'systemd') run('systemctl', ['daemon-reload'], log);
}
