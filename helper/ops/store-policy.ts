import { fchmodSync, fstatSync } from 'node:fs';
import { statAt } from '../../native';
import { MAX_POLICY_BYTES, ProtocolError } from '../../common/protocol';
import {
  POLICY_CACHE_NAME,
  assertNewer,
  checkCachedPolicy,
  untrustedFileReason,
  verifyPolicy,
  type CachedPolicy,
} from '../../common/policy';
import { writeFileAtomically } from '../fs/atomic-write';
import { readFileAt } from '../../common/fs/read-file';
import { openStateDir } from '../fs/state-dir';
import type { TrustedDirectory } from '../../common/fs/trusted-directory';
import type { HelperConfig } from '../../common/helper-config/schema';
import type { OperationHandler } from './types';

function orgKey(config: HelperConfig): string {
  if (config.orgPublicKey === undefined) {
    throw new ProtocolError('NOT_CONFIGURED', 'no organization key was recorded at install, so no policy can be accepted');
  }
  return config.orgPublicKey;
}

/**
 * The cached policy, re-verified with the org key. Read through the
 * directory fd without following links; a file not root's alone, unreadable,
 * or not signed by the current key counts as absent: its version must not
 * block (or be trusted over) a policy the org key did sign.
 */
function readCache(dir: TrustedDirectory, publicKeyPem: string, now: Date): CachedPolicy {
  const st = statAt(dir.fd, POLICY_CACHE_NAME);
  if (st === null) return { state: 'absent' };
  const reason = untrustedFileReason({ uid: st.uid, mode: st.mode, isFile: st.type === 'file' });
  if (reason !== undefined) return { state: 'untrusted', reason };
  let bytes: Buffer | null;
  try {
    bytes = readFileAt(dir, POLICY_CACHE_NAME, MAX_POLICY_BYTES);
  } catch (error) {
    return { state: 'untrusted', reason: `the policy cache cannot be read (${(error as Error).message})` };
  }
  return bytes === null ? { state: 'absent' } : checkCachedPolicy(bytes, publicKeyPem, now);
}

/**
 * The app reads the cache as the user, so the directory must be searchable
 * by all; a stricter umask at creation (or an admin's chmod) would hide the
 * policy from the app. Only read/search bits are added, never write.
 */
function ensureReadableByAll(dir: TrustedDirectory): void {
  const mode = fstatSync(dir.fd).mode & 0o7777;
  if ((mode & 0o755) !== 0o755) fchmodSync(dir.fd, mode | 0o755);
}

/**
 * Stores the organization policy where the user can read but not change it.
 * Checks, in order: an org key was installed; the document is well formed,
 * signed by that key and unexpired (before any disk access, so a refused
 * policy cannot even create the state directory); its version is strictly
 * higher than the cached one (no replay, no rollback). Then an atomic
 * replace: readers see the old policy or the new one, never a mix. Every
 * refusal happens before the write, so the cache is untouched.
 */
export const storePolicy: OperationHandler<'storePolicy'> = (args, { config }) => {
  const publicKeyPem = orgKey(config);
  const now = new Date();
  const policy = verifyPolicy(args.policy, publicKeyPem, now);
  const dir = openStateDir(config.stateDir);
  try {
    const cached = readCache(dir, publicKeyPem, now);
    assertNewer(policy, cached.state === 'valid' ? cached.policy : null);
    ensureReadableByAll(dir);
    // The exact signed document, so anyone can re-verify what root stored.
    writeFileAtomically(dir, POLICY_CACHE_NAME, Buffer.from(policy.document, 'utf8'), { mode: 0o644, uid: 0, gid: 0 });
  } finally {
    dir.close();
  }
  return { result: { organization: policy.organization, version: policy.version, expires: policy.expires } };
};
