import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { SERVICE_LABEL, type InstallLayout } from '../../common/paths';
import { readConfigFile } from '../../common/helper-config/read';
import type { HelperProgram, Log } from './install';
import { SERVICE_FILES } from './service';
import { runningStandalone, startStandalone } from './standalone';

/** Why `start` cannot start anything: said to the admin as is (exit 1; 78 for a config gone bad). */
export class NothingToStart extends Error {
  constructor(
    message: string,
    readonly badConfig = false,
  ) {
    super(message);
  }
}

/**
 * `berth-helper start`: brings an installed helper back without installing
 * again. Standalone machines need it after every reboot (nothing there
 * starts the helper at boot); under systemd or launchd it re-enables a socket
 * someone stopped. Which of the three it is follows from what install wrote,
 * not from guessing again. Changes nothing else: no file is written but the
 * pid file, and the config is only read (and must still be root's alone).
 */
export async function startInstalled(layout: InstallLayout, program: HelperProgram, log: Log): Promise<'started' | 'running'> {
  if (existsSync(layout.userModePath)) {
    throw new NothingToStart('this machine is in user mode: no helper runs by design (berth-helper install --help)');
  }
  if (!existsSync(layout.configPath)) {
    throw new NothingToStart('the helper is not installed: install it first (berth-helper install --help)');
  }
  let config;
  try {
    config = readConfigFile(layout.configPath);
  } catch (error) {
    // Not root's alone any more, or edited into nonsense: the helper must not serve on it.
    throw new NothingToStart(`cannot use ${layout.configPath}: ${(error as Error).message}; install again to rewrite it`, true);
  }
  if (existsSync(SERVICE_FILES.systemdSocket(SERVICE_LABEL))) {
    execFileSync('systemctl', ['start', `${SERVICE_LABEL}.socket`], { stdio: ['ignore', 'ignore', 'pipe'] });
    log(`systemd: ${SERVICE_LABEL}.socket listens on ${config.socketPath}; the helper starts on first use`);
    return 'started';
  }
  if (existsSync(SERVICE_FILES.launchd(SERVICE_LABEL))) {
    try {
      // Loaded already: launchd holds the socket and starts the helper on first use.
      execFileSync('launchctl', ['print', `system/${SERVICE_LABEL}`], { stdio: 'ignore' });
      log(`launchd: ${SERVICE_LABEL} is loaded; the helper starts on first use`);
      return 'running';
    } catch {
      execFileSync('launchctl', ['bootstrap', 'system', SERVICE_FILES.launchd(SERVICE_LABEL)], { stdio: ['ignore', 'ignore', 'pipe'] });
      log(`launchd: loaded ${SERVICE_LABEL}; the helper starts on first use`);
      return 'started';
    }
  }
  const running = runningStandalone(layout);
  if (running !== undefined) {
    log(`the helper is already running (supervisor pid ${running})`);
    return 'running';
  }
  const command = program.command(layout.helperDir, layout.configPath);
  // The installed copy, never the one this command runs from: install put it in a root-only place.
  const missing = command.filter((part) => part.startsWith(`${layout.helperDir}/`) && !existsSync(part));
  if (missing.length > 0) throw new NothingToStart(`the installed helper is missing (${missing.join(', ')}): install it again`);
  const pid = await startStandalone(command, layout);
  log(`standalone mode: started the helper and its supervisor (pid ${pid}) on ${config.socketPath}`);
  return 'started';
}
