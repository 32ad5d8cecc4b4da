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
import { sharedReason, unwantHosts, updateWants, wantHosts } from '../wants';
import { ensureHostsBlock, removeHostsBlock } from './file';

/** Adds the block, and records that the caller wants it (so another account's removeHosts keeps it). */
export const ensureHosts: OperationHandler<'ensureHosts'> = (_args, { peer, config, enrolment }) => {
  assertNotLocked(config, 'hostsEntries', (on) => on, 'the hosts entries');
  // The wish first: if it cannot be recorded, the hosts file is not touched either.
  updateWants(config, enrolment, (wants) => wantHosts(wants, peer.uid));
  return { result: ensureHostsBlock(HOSTS_PATH) };
};

/**
 * The caller no longer wants the block. It goes only when no other account
 * does: /etc/hosts is one file for everyone, and another user's Berth still
 * relies on berth.internal. When it stays, the result says why.
 */
export const removeHosts: OperationHandler<'removeHosts'> = (_args, { peer, config, enrolment }) => {
  assertNotLocked(config, 'hostsEntries', (on) => !on, 'the hosts entries');
  let others: number[] = [];
  updateWants(config, enrolment, (wants) => {
    const after = unwantHosts(wants, peer.uid);
    others = after.others;
    return after.wants;
  });
  if (others.length > 0) return { result: { changed: false, method: 'none', kept: sharedReason() } };
  return { result: removeHostsBlock(HOSTS_PATH) };
};

export { APP_HOSTNAME, BEGIN_ADDED_BREAK, BEGIN_MARKER, END_MARKER, blockEntries, ensureBlock, removeBlock } from './block';
export { BACKUP_SUFFIX } from './atomic-file';
export { ensureHostsBlock, removeHostsBlock } from './file';
