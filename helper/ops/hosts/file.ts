/**
 * The hosts block applied to a file at a given path: the work behind
 * ensureHosts/removeHosts, free of the protocol schemas so the crash test's
 * thousand short-lived writer processes start fast.
 */
import { HOSTS_PATH } from '../../../common/paths';
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

