import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { SERVICE_LABEL, type InstallLayout } from '../../common/paths';
import type { OperationResult } from '../../common/protocol';
import type { HelperConfig } from '../../common/helper-config/schema';
import { uninstallEverything } from '../ops/uninstall';
import type { Log } from './install';
import { SERVICE_FILES } from './service';
import { detectServiceManager } from './service-manager';

/**
 * The app this helper was installed for is gone (dragged to the Trash, the
 * AppImage deleted): a helper left behind would run root code for nothing,
 * the complaint users have about Docker's. So it removes itself, from the
 * inside, in an order that never leaves a service that starts a missing
 * program: first nothing starts it at boot any more, then Berth's links,
 * hosts block, policy, program and config go (the install record's paths),
 * then the service manager forgets it, which ends this process.
 * The logs stay: they are the only record of why Berth's helper went away.
 */
export function removeForGoneApp(config: HelperConfig, layout: InstallLayout, log: Log): OperationResult<'uninstall'> {
  const manager = detectServiceManager();
  const quiet = (command: string, args: string[]): void => {
    try {
      execFileSync(command, args, { stdio: ['ignore', 'ignore', 'pipe'], timeout: 30_000 });
      log(`ran ${command} ${args.join(' ')}`);
    } catch (error) {
      // Best effort: the files below go either way, and a unit whose files are gone cannot start again.
      log(`${command} ${args.join(' ')} failed: ${(error as Error).message.split('\n')[0]}`);
    }
  };
  const socketUnit = `${SERVICE_LABEL}.socket`;
  const serviceUnit = `${SERVICE_LABEL}.service`;
  // systemd: the sockets.target.wants link is not in the install record; disable removes it while the unit file still exists.
  if (manager === 'systemd' && existsSync(SERVICE_FILES.systemdSocket(SERVICE_LABEL))) quiet('systemctl', ['disable', '--no-reload', socketUnit]);
  const logDir = config.auditLogPath !== undefined ? dirname(config.auditLogPath) : layout.logDir;
  const outcome = uninstallEverything(config, {
    removePolicy: true,
    keepLogs: { dir: logDir, reason: "it records why Berth's helper removed itself (the app is gone); delete it when you no longer need it" },
  });
  for (const path of outcome.removed) log(`removed ${path}`);
  for (const { path, reason } of outcome.kept) log(`kept ${path}: ${reason}`);
  if (manager === 'systemd') {
    quiet('systemctl', ['daemon-reload']);
    // --no-block: stopping our own service waits for this very process, which is busy asking.
    quiet('systemctl', ['stop', '--no-block', socketUnit, serviceUnit]);
  } else if (manager === 'launchd') {
    // Ends this job (and process) too: everything else is done by now.
    quiet('launchctl', ['bootout', `system/${SERVICE_LABEL}`]);
  }
  return outcome;
}
