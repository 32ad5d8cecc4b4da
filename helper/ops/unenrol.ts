import { HOSTS_PATH } from '../../common/paths';
import { ProtocolError, type OperationResult } from '../../common/protocol';
import type { HelperConfig } from '../../common/helper-config/schema';
import { removeHostsBlock } from './hosts';
import { lockedSettings } from './policy-locks';
import { removeOurLinks } from './symlinks';
import { dropAccount, sharedReason, updateWantsWith, type WantsSeed } from './wants';

type Outcome = OperationResult<'uninstall'>;

export interface AfterUnenrolOptions {
  /** What stays for the others, named in the result: the helper's socket (the op) or its program directory (the installer). */
  helperPath: string;
  hostsPath?: string;
}

function plural(count: number, one: string, many: string): string {
  return `${count} ${count === 1 ? one : many}`;
}

/**
 * After `uid` left while other accounts stay enrolled: its wishes go, and so
 * do the shared things (the hosts block, system links) that nobody else
 * wants any more; what another account still wants stays, and the result
 * says so. An organization's lock is never lifted this way: what the policy
 * keeps on stays on. `seed` attributes an older install's link and block:
 * it was taken before the enrolment changed (its first account may be `uid`).
 */
export function afterUnenrol(config: HelperConfig, uid: number, seed: WantsSeed, remaining: readonly number[], options: AfterUnenrolOptions): Outcome {
  const hostsPath = options.hostsPath ?? HOSTS_PATH;
  const outcome: Outcome = { scope: 'account', removed: [], kept: [] };
  let dropped = dropAccount({ version: 1, hosts: [], links: {} }, uid);
  updateWantsWith(config, seed, (wants) => {
    dropped = dropAccount(wants, uid);
    return dropped.wants;
  });
  const locks = lockedSettings(config);
  const shared = sharedReason();
  if (dropped.hosts === 'shared') outcome.kept.push({ path: hostsPath, reason: `the berth block is ${shared}` });
  else if (dropped.hosts === 'last' && locks.hostsEntries === true) {
    outcome.kept.push({ path: hostsPath, reason: 'your organization keeps the hosts entries on' });
  } else if (dropped.hosts === 'last') {
    try {
      if (removeHostsBlock(hostsPath).changed) outcome.removed.push(`${hostsPath}: the berth block`);
    } catch (error) {
      outcome.kept.push({ path: hostsPath, reason: error instanceof ProtocolError ? error.message : String(error) });
    }
  }
  for (const link of dropped.links) {
    const path = `${config.linkDir}/${link.name}`;
    if (link.shared) outcome.kept.push({ path, reason: shared });
    else if (locks.cliToolsLocation === 'system') outcome.kept.push({ path, reason: 'your organization keeps the CLI tools in the system location' });
    else {
      try {
        for (const l of removeOurLinks(config, [link.name]).links) if (l.action === 'removed') outcome.removed.push(path);
      } catch (error) {
        outcome.kept.push({ path, reason: (error as Error).message });
      }
    }
  }
  const others = plural(remaining.length, 'other account', 'other accounts');
  outcome.kept.push({ path: options.helperPath, reason: `Berth's helper stays for the ${others} enrolled on this computer; only your enrolment (uid ${uid}) was removed` });
  return outcome;
}
