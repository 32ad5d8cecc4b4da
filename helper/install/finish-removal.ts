import { execFileSync } from 'node:child_process';
import { dirname } from 'node:path';
import { SERVICE_LABEL, type InstallLayout } from '../../common/paths';
import type { HelperConfig } from '../../common/helper-config/schema';
import { APP_GONE_EXIT_STATUS, appPresence } from '../daemon/app-presence';
import { currentProgram, type Log } from './install';
import { uninstallHelper } from './uninstall';

/**
 * systemd's half of "gone when the app is gone" (see removeForGoneApp for
 * launchd and standalone), in two steps:
 *
 * 1. The unit's ExecStopPost=+ runs `finish-removal` after every stop of the
 *    helper, as root. It acts only when the helper exited with
 *    APP_GONE_EXIT_STATUS (systemd sets EXIT_STATUS for ExecStopPost=, and
 *    only systemd starts it); after an idle exit or a crash it returns at once.
 *    It cannot do the removal itself: it is still part of the unit's stop (a
 *    blocking `systemctl` would wait for itself) and inside the unit's mount
 *    namespace (its ReadWritePaths= folders are mount points there: EBUSY).
 * 2. So it hands over to a transient unit (`systemd-run`), which runs
 *    `finish-removal --outside` in a clean namespace once this stop is done:
 *    it looks again itself (from there home directories are visible too, and
 *    a managed helper (org key) is never removed this way), then uninstalls
 *    as root does, keeping the logs.
 */
export const OUTSIDE_FLAG = '--outside';
const KEEP_LOGS_REASON = "it records why Berth's helper removed itself (the app is gone); delete it when you no longer need it";

export async function finishRemoval(config: HelperConfig, layout: InstallLayout, env: NodeJS.ProcessEnv, outside: boolean, log: Log): Promise<boolean> {
  if (!outside && env.EXIT_STATUS !== String(APP_GONE_EXIT_STATUS)) return false;
  if (config.appPath === undefined || config.orgPublicKey !== undefined) return false;
  if (appPresence(config.appPath).state !== 'gone') {
    log(`the helper reported its app gone, but ${config.appPath} is there (or cannot be seen): nothing removed`);
    return false;
  }
  if (!outside) {
    const argv = currentProgram().command(layout.helperDir, layout.configPath);
    const at = argv.indexOf('serve');
    const finish = [...argv.slice(0, at), 'finish-removal', ...argv.slice(at + 1), OUTSIDE_FLAG];
    execFileSync('systemd-run', ['--no-block', '--collect', '--quiet', `--unit=${SERVICE_LABEL}-removal`, '--', ...finish], {
      stdio: ['ignore', 'ignore', 'pipe'],
      timeout: 30_000,
    });
    log(`the app at ${config.appPath} is gone: ${SERVICE_LABEL}-removal removes the helper once it has stopped`);
    return true;
  }
  const logDir = config.auditLogPath !== undefined ? dirname(config.auditLogPath) : layout.logDir;
  await uninstallHelper(layout, log, { keepLogs: { dir: logDir, reason: KEEP_LOGS_REASON } });
  log('removed: the app is gone, and so is its helper');
  return true;
}
