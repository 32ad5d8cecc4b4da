import { existsSync } from 'node:fs';
import type { InstallLayout } from '../../common/paths';
import type { OperationResult } from '../../common/protocol';
import { helperConfig, type HelperConfig } from '../../common/helper-config/schema';
import { readConfigFile } from '../../common/helper-config/read';
import { uninstallEverything } from '../ops/uninstall';
import type { Log } from './install';
import { detectServiceManager, forgetService, stopService } from './service-manager';

/**
 * Root's uninstall (an admin, MDM, or the app through the prompt): stop the
 * helper, then remove what the install record lists, Berth's links and hosts
 * block, and the policy (root may). Works on a half-installed machine: with
 * no config, the layout's defaults say where to look.
 */
export interface UninstallHelperOptions {
  /** Keep the logs, saying why (see uninstallEverything). */
  keepLogs?: { dir: string; reason: string };
}

export async function uninstallHelper(layout: InstallLayout, log: Log, options: UninstallHelperOptions = {}): Promise<OperationResult<'uninstall'>> {
  const manager = detectServiceManager();
  await stopService(manager, layout, log);
  let config: HelperConfig;
  if (existsSync(layout.configPath)) {
    config = readConfigFile(layout.configPath);
  } else {
    // Nothing recorded who was served; the uid is not used by removal.
    config = helperConfig.parse({ socketPath: layout.socketPath, allowUid: 65534, stateDir: layout.stateDir });
    log(`no config at ${layout.configPath}: cleaning up from the standard locations`);
  }
  const outcome = uninstallEverything(config, { removePolicy: true, ...(options.keepLogs !== undefined ? { keepLogs: options.keepLogs } : {}) });
  forgetService(manager, log);
  for (const path of outcome.removed) log(`removed ${path}`);
  for (const { path, reason } of outcome.kept) log(`kept ${path}: ${reason}`);
  return outcome;
}
