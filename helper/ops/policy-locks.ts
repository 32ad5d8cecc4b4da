import { policyInForce, readCachedPolicy, type VerifiedPolicy } from '../../common/policy';
import { ProtocolError } from '../../common/protocol/errors';
import type { LockedSettings, ToggleKey } from '../../common/settings/schema';
import type { HelperConfig } from '../../common/helper-config/schema';

/**
 * The organization's locks bind the helper itself, not just the app: the
 * enrolled users reach the socket and could skip the app with any client.
 * Only a cache that verifies with the org key recorded at install counts.
 */
export function lockedSettings(config: HelperConfig): LockedSettings {
  return policyFor(config)?.lockedSettings ?? {};
}

/** The organization policy the helper enforces: a cache that verifies with the recorded org key, or none. */
export function policyFor(config: HelperConfig): VerifiedPolicy | null {
  if (config.orgPublicKey === undefined) return null;
  return policyInForce(readCachedPolicy(config.stateDir, config.orgPublicKey));
}

/** Refuses when the policy locks `key` to a value other than `wanted`. */
export function assertNotLocked<K extends ToggleKey>(
  config: HelperConfig | VerifiedPolicy | null,
  key: K,
  allowed: (locked: NonNullable<LockedSettings[K]>) => boolean,
  what: string,
): void {
  // A policy already read (bindPort reads it once for its locks and its port rules), or the config to read it from.
  const settings = config === null ? {} : 'lockedSettings' in config ? config.lockedSettings : lockedSettings(config);
  const locked = settings[key];
  if (locked !== undefined && !allowed(locked as NonNullable<LockedSettings[K]>)) {
    throw new ProtocolError('LOCKED_BY_POLICY', `${what} is locked by your organization (${key} = ${JSON.stringify(locked)})`);
  }
}
