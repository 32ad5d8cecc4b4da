import { policyInForce, readCachedPolicy } from '../../common/policy';
import { ProtocolError } from '../../common/protocol/errors';
import type { LockedSettings, ToggleKey } from '../../common/settings/schema';
import type { HelperConfig } from '../daemon/config';

/**
 * The organization's locks bind the helper itself, not just the app: the
 * allowed user owns the socket and could skip the app with any client.
 * Only a cache that verifies with the org key recorded at install counts.
 */
export function lockedSettings(config: HelperConfig): LockedSettings {
  if (config.orgPublicKey === undefined) return {};
  return policyInForce(readCachedPolicy(config.stateDir, config.orgPublicKey))?.lockedSettings ?? {};
}

/** Refuses when the policy locks `key` to a value other than `wanted`. */
export function assertNotLocked<K extends ToggleKey>(
  config: HelperConfig,
  key: K,
  allowed: (locked: NonNullable<LockedSettings[K]>) => boolean,
  what: string,
): void {
  const locked = lockedSettings(config)[key];
  if (locked !== undefined && !allowed(locked as NonNullable<LockedSettings[K]>)) {
    throw new ProtocolError('LOCKED_BY_POLICY', `${what} is locked by your organization (${key} = ${JSON.stringify(locked)})`);
  }
}
