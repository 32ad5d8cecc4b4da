/**
 * ensureHosts / removeHosts: Berth's block in /etc/hosts. The entries are
 * fixed (localhost and berth.internal); nothing comes from the request, and
 * the path is the constant HOSTS_PATH, never config or args.
 *
 * Round trip: see ./block.ts. Atomic replace and its fallbacks: ./atomic-file.ts.
 */
import { HOSTS_PATH } from '../../../common/paths';
import type { OperationHandler } from '../types';
import { updateFile, type UpdateOptions, type UpdateResult } from './atomic-file';
import { ensureBlock, removeBlock } from './block';

/** A hosts file that does not exist yet is created the way systems ship it. */
const HOSTS_MODE = 0o644;

/** Adds or refreshes Berth's block in the hosts file at `path`. */
export function ensureHostsBlock(path: string = HOSTS_PATH, options: UpdateOptions = {}): UpdateResult {
  return updateFile(path, (content) => ensureBlock(content, path), { createMode: HOSTS_MODE, ...options });
}

/** Removes Berth's block from the hosts file at `path`, leaving the user's bytes exactly as they were. */
export function removeHostsBlock(path: string = HOSTS_PATH, options: UpdateOptions = {}): UpdateResult {
  // No createMode: a missing file has no block, and removing must never create one.
  return updateFile(path, (content) => removeBlock(content, path), { ...options, createMode: undefined });
}

export const ensureHosts: OperationHandler<'ensureHosts'> = () => ({ result: ensureHostsBlock(HOSTS_PATH) });

export const removeHosts: OperationHandler<'removeHosts'> = () => ({ result: removeHostsBlock(HOSTS_PATH) });

export { APP_HOSTNAME, BEGIN_ADDED_BREAK, BEGIN_MARKER, END_MARKER, blockEntries, ensureBlock, removeBlock } from './block';
export { BACKUP_SUFFIX } from './atomic-file';
