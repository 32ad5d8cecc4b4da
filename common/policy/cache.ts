import { readWhole } from '../read-fd';
import { closeSync, constants, fstatSync, lstatSync, openSync } from 'node:fs';
import { MAX_POLICY_BYTES } from '../protocol/messages';
import { PolicyError } from './errors';
import { isExpired, verifySignature } from './sign';
import type { VerifiedPolicy } from './schema';

/**
 * The policy cache: `${stateDir}/policy.json`, the signed document exactly as
 * the helper accepted it, root-owned 0644 in a root-owned 0755 directory.
 * Anyone may read it; both the helper and the app re-verify it on every read,
 * so the file's presence grants nothing by itself.
 */
export const POLICY_CACHE_NAME = 'policy.json';

export const DEFAULT_POLICY_CACHE_PATH = `/var/lib/berth/${POLICY_CACHE_NAME}`;

/**
 * What a read of the cache found. `absent` and `untrusted` both mean "no
 * policy in force"; `untrusted` says why a file that is there was ignored.
 * A `valid` policy may be `expired`: it stays in force until a newer one is
 * stored (an admin who forgets to renew should not silently lift the locks),
 * and the app shows that it expired.
 */
export type CachedPolicy =
  | { state: 'absent' }
  | { state: 'untrusted'; reason: string }
  | { state: 'valid'; policy: VerifiedPolicy; expired: boolean };

/** Ownership facts the caller read from the file (fstat, or statAt in the helper). */
export interface CacheFileFacts {
  uid: number;
  mode: number;
  isFile: boolean;
}

/**
 * Why a cache file cannot be trusted, or undefined. Only root may have
 * written it: a file anyone else could write could hold an older,
 * still-validly-signed policy, i.e. a rollback the signature cannot catch.
 */
export function untrustedFileReason(facts: CacheFileFacts): string | undefined {
  if (!facts.isFile) return 'the policy cache is not a regular file';
  if (facts.uid !== 0) return `the policy cache is owned by uid ${facts.uid}, not root`;
  if ((facts.mode & 0o022) !== 0) return 'the policy cache is writable by group or others';
  return undefined;
}

/**
 * The verification both sides share: signature, key id and payload against
 * the organization key (no key recorded: nothing can be trusted), then the
 * expiry, reported rather than refused.
 */
export function checkCachedPolicy(bytes: Buffer, publicKeyPem: string | undefined, now: Date = new Date()): CachedPolicy {
  if (publicKeyPem === undefined) return { state: 'untrusted', reason: 'no organization key is recorded to verify the policy cache' };
  let policy: VerifiedPolicy;
  try {
    policy = verifySignature(bytes.toString('utf8'), publicKeyPem);
  } catch (error) {
    if (error instanceof PolicyError) return { state: 'untrusted', reason: error.message };
    throw error;
  }
  return { state: 'valid', policy, expired: isExpired(policy, now) };
}

/** Each directory from '/' down to `dir` must be a real directory only root can change. */
function untrustedDirectoryReason(dir: string): string | undefined {
  const parts = dir.split('/').filter((p) => p.length > 0);
  for (let i = 0; i <= parts.length; i++) {
    const path = `/${parts.slice(0, i).join('/')}`;
    const st = lstatSync(path);
    if (st.isSymbolicLink()) return `${path} is a symlink`;
    if (!st.isDirectory()) return `${path} is not a directory`;
    if (st.uid !== 0) return `${path} is owned by uid ${st.uid}, not root`;
    if ((st.mode & 0o022) !== 0) return `${path} is writable by group or others`;
  }
  return undefined;
}

/**
 * Reads and verifies the cache as any user (the app reads it unprivileged).
 * `publicKeyPem` is the organization key recorded at install; without it no
 * policy can be trusted, so the result is `untrusted`. Never throws for a
 * bad or missing cache: a broken cache means "no policy", not a crash.
 */
export function readCachedPolicy(stateDir: string, publicKeyPem?: string, now: Date = new Date()): CachedPolicy {
  if (!stateDir.startsWith('/')) throw new TypeError('stateDir must be an absolute path');
  let fd: number;
  try {
    const dirReason = untrustedDirectoryReason(stateDir);
    if (dirReason !== undefined) return { state: 'untrusted', reason: `${dirReason}; the policy cache there is ignored` };
    // O_NOFOLLOW: the name itself must not be a link; O_NONBLOCK: a FIFO planted there cannot hang the app.
    fd = openSync(`${stateDir.replace(/\/+$/, '')}/${POLICY_CACHE_NAME}`, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'ENOENT') return { state: 'absent' };
    return { state: 'untrusted', reason: `the policy cache cannot be read (${code ?? (error as Error).message})` };
  }
  try {
    const st = fstatSync(fd);
    const reason = untrustedFileReason({ uid: st.uid, mode: st.mode, isFile: st.isFile() });
    if (reason !== undefined) return { state: 'untrusted', reason };
    if (st.size > MAX_POLICY_BYTES) return { state: 'untrusted', reason: `the policy cache is larger than ${MAX_POLICY_BYTES} bytes` };
    const bytes = readWhole(fd, st.size);
    return checkCachedPolicy(bytes, publicKeyPem, now);
  } catch (error) {
    return { state: 'untrusted', reason: `the policy cache cannot be read (${(error as { code?: string }).code ?? (error as Error).message})` };
  } finally {
    closeSync(fd);
  }
}

/** The policy in force, or null: the shape most callers want. */
export function policyInForce(cached: CachedPolicy): VerifiedPolicy | null {
  return cached.state === 'valid' ? cached.policy : null;
}
