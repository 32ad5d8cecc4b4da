import { existsSync } from 'node:fs';
import type { InstallLayout } from '../../common/paths';
import type { OperationResult } from '../../common/protocol';
import { helperConfig, type HelperConfig } from '../../common/helper-config/schema';
import { readConfigFile } from '../../common/helper-config/read';
import { unenrolInFile } from '../daemon/enrolment';
import { uninstallEverything } from '../ops/uninstall';
import { afterUnenrol } from '../ops/unenrol';
import { wantsSeed } from '../ops/wants';
import type { Log } from './install';
import { detectServiceManager, forgetService, stopService } from './service-manager';

/** What was removed and kept, and the one line that sums it up for the person who ran it. */
type Outcome = OperationResult<'uninstall'> & { summary: string };

function summed(outcome: OperationResult<'uninstall'>, summary: string): Outcome {
  return { ...outcome, summary };
}

/**
 * Root's uninstall (an admin, MDM, or the app through the prompt).
 *
 * With `forUid` (the app and `berth helper uninstall` pass the user's own):
 * the uninstall of that account. While other accounts stay enrolled, only
 * its enrolment and what it alone wanted go; the helper keeps running for
 * the others (it reads the new enrolment on its next connection). When it is
 * the last account, or with no `forUid`, everything goes: stop the helper,
 * then remove what the install record lists, Berth's links and hosts block,
 * and the policy (root may). Works on a half-installed machine: with no
 * config, the layout's defaults say where to look.
 */
export interface UninstallHelperOptions {
  /** A user's own uninstall (`--uid`): unenrol that account while others stay; the last one removes everything. */
  forUid?: number;
  /** Keep the logs, saying why (see uninstallEverything). */
  keepLogs?: { dir: string; reason: string };
  /**
   * Whether the organization policy goes too (default: yes, root asked). No
   * when finishing a user's own uninstall over the socket: no administrator
   * approved that one, so it removes what the operation would have (T15).
   */
  removePolicy?: boolean;
}

export async function uninstallHelper(layout: InstallLayout, log: Log, options: UninstallHelperOptions = {}): Promise<Outcome> {
  const forUid = options.forUid;
  if (forUid !== undefined && existsSync(layout.configPath)) {
    const config = readConfigFile(layout.configPath);
    if (!config.allowUids.includes(forUid)) {
      return summed({ scope: 'account', removed: [], kept: [] }, `nothing to do: uid ${forUid} is not enrolled, and the helper stays for the accounts it serves`);
    }
    // Taken before the change: an older install's links and hosts block are its first account's.
    const seed = wantsSeed(config, config.allowUids[0]);
    const remaining = unenrolInFile(layout.configPath, forUid);
    if (remaining !== undefined) {
      log(`unenrolled uid ${forUid} in ${layout.configPath}`);
      const outcome = afterUnenrol(config, forUid, seed, remaining, { helperPath: layout.helperDir });
      for (const path of outcome.removed) log(`removed ${path}`);
      for (const { path, reason } of outcome.kept) log(`kept ${path}: ${reason}`);
      return summed(outcome, `unenrolled: the helper no longer serves uid ${forUid}; it stays for the other accounts on this computer`);
    }
    log(`uid ${forUid} is the last enrolled account: removing the helper`);
  }
  const manager = detectServiceManager();
  await stopService(manager, layout, log);
  let config: HelperConfig;
  if (existsSync(layout.configPath)) {
    config = readConfigFile(layout.configPath);
  } else {
    // Nothing recorded who was served; the uid is not used by removal.
    config = helperConfig.parse({ socketPath: layout.socketPath, allowUids: [65534], stateDir: layout.stateDir });
    log(`no config at ${layout.configPath}: cleaning up from the standard locations`);
  }
  const outcome = uninstallEverything(config, {
    removePolicy: options.removePolicy ?? true,
    ...(options.keepLogs !== undefined ? { keepLogs: options.keepLogs } : {}),
  });
  forgetService(manager, log);
  for (const path of outcome.removed) log(`removed ${path}`);
  for (const { path, reason } of outcome.kept) log(`kept ${path}: ${reason}`);
  return summed(outcome, outcome.kept.length === 0 ? 'uninstalled: nothing of Berth is left' : 'uninstalled, except what is listed as kept above');
}
