/**
 * ensureHosts / removeHosts: Berth's block in /etc/hosts. The entries are
 * fixed (localhost and berth.internal); nothing comes from the request, and
 * the path is the constant HOSTS_PATH, never config or args.
 *
 * Round trip: see ./block.ts. Atomic replace and its fallbacks: ./atomic-file.ts.
 */
import { HOSTS_PATH } from '../../../common/paths';
import { assertNotLocked } from '../policy-locks';
import type { OperationHandler } from '../types';
import { ensureHostsBlock, removeHostsBlock } from './file';

export const ensureHosts: OperationHandler<'ensureHosts'> = (_args, { config }) => {
  assertNotLocked(config, 'hostsEntries', (on) => on, 'the hosts entries');
  return { result: ensureHostsBlock(HOSTS_PATH) };
};

export const removeHosts: OperationHandler<'removeHosts'> = (_args, { config }) => {
  assertNotLocked(config, 'hostsEntries', (on) => !on, 'the hosts entries');
  return { result: removeHostsBlock(HOSTS_PATH) };
};

export { APP_HOSTNAME, BEGIN_ADDED_BREAK, BEGIN_MARKER, END_MARKER, blockEntries, ensureBlock, removeBlock } from './block';
export { BACKUP_SUFFIX } from './atomic-file';
export { ensureHostsBlock, removeHostsBlock } from './file';
