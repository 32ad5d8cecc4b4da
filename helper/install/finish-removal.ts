import { execFileSync } from 'node:child_process';
import { dirname } from 'node:path';
import { SERVICE_LABEL, type InstallLayout } from '../../common/paths';
import type { HelperConfig } from '../../common/helper-config/schema';
import { appPresence } from '../daemon/app-presence';
import { discardRemovalRequest, readRemovalRequest, REMOVAL_EXIT_STATUS } from '../daemon/removal-request';
import { currentProgram, type Log } from './install';
import { uninstallHelper } from './uninstall';

/**
 * systemd's half of the helper's removal, for the two reasons the helper
 * leaves to be removed: someone asked for `uninstall` over its socket (the
 * operation recorded who: daemon/removal-request.ts), or its app is gone
 * (see removeForGoneApp for launchd and standalone). In two steps:
 *
 * 1. The unit's ExecStopPost=+ runs `finish-removal` after every stop of the
 *    helper, as root. It acts only when the helper exited with
 *    REMOVAL_EXIT_STATUS (systemd sets EXIT_STATUS for ExecStopPost=, and
 *    only systemd starts it); after an idle exit or a crash it returns at once.
 *    It cannot do the removal itself: it is still part of the unit's stop (a
 *    blocking `systemctl` would wait for itself) and inside the unit's mount
 *    namespace (its ReadWritePaths= folders are mount points there: EBUSY).
 * 2. So it hands over to a transient unit (`systemd-run`), which runs
 *    `finish-removal --outside` in a clean namespace once this stop is done:
 *    it looks again itself, then uninstalls as root does. Asked for: as the
 *    asker's uninstall would (a user's keeps the organization policy). App
 *    gone: keeping the logs (from outside, home directories are visible too,
 *    and a managed helper (org key) is never removed this way).
 */
export const OUTSIDE_FLAG = '--outside';
const KEEP_LOGS_REASON = "it records why Berth's helper removed itself (the app is gone); delete it when you no longer need it";

/** Why the helper is to go, as seen from here; undefined: it is not. */
type Removal = { why: 'asked'; uid: number; at: string } | { why: 'app-gone'; appPath: string };

/**
 * Whether `uid` may have the whole helper removed, checked again outside the
 * sandbox: the record says only who asked, and the config (not the record) says
 * who that may be, as the operation decided before it recorded it.
 */
function askerProblem(config: HelperConfig, uid: number): string | undefined {
  if (uid === 0) return undefined;
  if (!config.allowUids.includes(uid)) return `uid ${uid} is not enrolled`;
  // A managed helper is the admin's to remove (ops/uninstall.ts, SECURITY.md T15).
  if (config.orgPublicKey !== undefined) return 'the helper is managed by an organization, so only root removes it';
  return undefined;
}

function removalDue(config: HelperConfig, log: Log): Removal | undefined {
  const recorded = readRemovalRequest(config.stateDir);
  if (recorded !== undefined) {
    const problem = 'problem' in recorded ? recorded.problem : askerProblem(config, recorded.request.uid);
    if (problem === undefined && 'request' in recorded) return { why: 'asked', uid: recorded.request.uid, at: recorded.request.requestedAt };
    // Never acted on, and not left for a later stop to act on either. Nor does this exit go on
    // to the app-gone check below: it was an uninstall's, refused, and the finisher's one look
    // at the app (with privileges the helper's own two looks did not have) must not turn it
    // into a removal nobody allowed.
    discardRemovalRequest(config.stateDir);
    log(`a removal request was recorded, but ${problem}: nothing removed, and the request discarded`);
    return undefined;
  }
  if (config.appPath === undefined || config.orgPublicKey !== undefined) return undefined;
  if (appPresence(config.appPath).state !== 'gone') {
    if (recorded === undefined) log(`the helper reported its app gone, but ${config.appPath} is there (or cannot be seen): nothing removed`);
    return undefined;
  }
  return { why: 'app-gone', appPath: config.appPath };
}

export async function finishRemoval(config: HelperConfig, layout: InstallLayout, env: NodeJS.ProcessEnv, outside: boolean, log: Log): Promise<boolean> {
  if (!outside && env.EXIT_STATUS !== String(REMOVAL_EXIT_STATUS)) return false;
  const removal = removalDue(config, log);
  if (removal === undefined) return false;
  if (!outside) {
    const argv = currentProgram().command(layout.helperDir, layout.configPath);
    const at = argv.indexOf('serve');
    const finish = [...argv.slice(0, at), 'finish-removal', ...argv.slice(at + 1), OUTSIDE_FLAG];
    execFileSync('systemd-run', ['--no-block', '--collect', '--quiet', `--unit=${SERVICE_LABEL}-removal`, '--', ...finish], {
      stdio: ['ignore', 'ignore', 'pipe'],
      timeout: 30_000,
    });
    const why = removal.why === 'asked' ? `uid ${removal.uid} asked for uninstall` : `the app at ${removal.appPath} is gone`;
    log(`${why}: ${SERVICE_LABEL}-removal removes the helper once it has stopped`);
    return true;
  }
  if (removal.why === 'asked') {
    // Root's request removes everything; an account's is that account's uninstall (should others
    // have enrolled since, it now ends only that enrolment), keeping the organization policy.
    const outcome = await uninstallHelper(layout, log, removal.uid === 0 ? {} : { forUid: removal.uid, removePolicy: false });
    // Gone with the state files on a full removal; still there when only the enrolment ended.
    discardRemovalRequest(config.stateDir);
    log(`${outcome.summary} (uninstall asked by uid ${removal.uid} at ${removal.at})`);
    return true;
  }
  const logDir = config.auditLogPath !== undefined ? dirname(config.auditLogPath) : layout.logDir;
  await uninstallHelper(layout, log, { keepLogs: { dir: logDir, reason: KEEP_LOGS_REASON } });
  log('removed: the app is gone, and so is its helper');
  return true;
}
