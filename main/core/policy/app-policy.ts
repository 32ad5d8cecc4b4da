import { NO_POLICY as NO_POLICY_REPORT } from '../../../common/api/capabilities';
import { lstatSync } from 'node:fs';
import type { z } from 'zod';
import type { capabilitiesSchema } from '../../../common/api/capabilities';
import { installLayout } from '../../../common/paths';
import { entryMatches, parseImageReference, readCachedPolicy, type CachedPolicy, type ImageReference } from '../../../common/policy';
import type { LockedSettings } from '../../../common/settings/schema';
import { formatDay } from '../../../common/text/dates';
import type { PortRulesInForce } from '../ports/bind';
import { readConfigFile } from '../../../common/helper-config/read';
import type { HelperConfig } from '../../../common/helper-config/schema';

/**
 * The organization policy as the app sees it: read as the user from the
 * helper's root-owned cache, re-verified with the org key from the helper's
 * root-owned config. The shape is exactly the capabilities report's
 * `policy`, so the UI, `berth status` and the checks here agree.
 */
export type AppPolicy = z.infer<typeof capabilitiesSchema.shape.policy>;

export interface AppPolicyOptions {
  /** The policy cache's directory; default: the config's stateDir, else the install layout's. */
  stateDir?: string;
  /** The helper's installed config; default installLayout().configPath. */
  configPath?: string;
  now?: Date;
}

/** No policy in force: nothing locked, every registry allowed. */
export const NO_POLICY: AppPolicy = NO_POLICY_REPORT;

/** The installed config, or why it cannot be used; `absent` on a machine without the helper (or in user mode). */
export type ConfigRead = { state: 'absent' } | { state: 'unusable'; reason: string } | { state: 'ok'; config: HelperConfig };

/**
 * The config is trusted only when it is root's alone (readConfigFile checks
 * the file and every directory above it, without following links): a
 * config anyone else could write could name their own key as the org key.
 */
export function readHelperConfig(configPath: string = installLayout().configPath): ConfigRead {
  try {
    lstatSync(configPath);
  } catch (error) {
    if ((error as { code?: string }).code === 'ENOENT') return { state: 'absent' };
  }
  try {
    return { state: 'ok', config: readConfigFile(configPath) };
  } catch (error) {
    return { state: 'unusable', reason: (error as Error).message };
  }
}

/** What one read of config and cache found: the policy, and what refreshPolicy needs besides. */
export interface PolicyState {
  policy: AppPolicy;
  /** The config as read: its org key verifies policies; `absent` where no helper is installed. */
  config: ConfigRead;
  /** The cached document in force, exactly as the helper stored it; null when none is. */
  document: string | null;
}

/**
 * The policy in force for the app. Never throws for a missing or bad file:
 * a broken cache or config means "no policy", with the reason shown, never a
 * crash (the helper would refuse to store anything on such a machine anyway).
 * An expired policy stays in force (see common/policy/cache.ts) and says so.
 */
export function readAppPolicy(options: AppPolicyOptions = {}): AppPolicy {
  return readPolicyState(options).policy;
}

export function readPolicyState(options: AppPolicyOptions = {}): PolicyState {
  const config = readHelperConfig(options.configPath);
  const installed = config.state === 'ok' ? config.config : undefined;
  const stateDir = options.stateDir ?? installed?.stateDir ?? installLayout().stateDir;
  const untrusted = (reason: string): PolicyState => ({ policy: { ...NO_POLICY, state: 'untrusted', reason }, config, document: null });
  let cached: CachedPolicy;
  try {
    cached = readCachedPolicy(stateDir, installed?.orgPublicKey, options.now ?? new Date());
  } catch (error) {
    // Only a relative stateDir throws; the config schema refuses those, so this is a caller's bug.
    return untrusted((error as Error).message);
  }
  if (cached.state === 'absent') return { policy: NO_POLICY, config, document: null };
  if (cached.state === 'untrusted') {
    // Say why there is no key, rather than only that there is none.
    if (config.state === 'unusable') return untrusted(`the helper's config cannot be used (${config.reason}), so the policy cache cannot be verified`);
    return untrusted(cached.reason);
  }
  const verified = cached.policy;
  const policy: AppPolicy = {
    state: cached.expired ? 'expired' : 'valid',
    reason: null,
    organization: verified.organization,
    version: verified.version,
    expires: verified.expires,
    lockedSettings: { ...verified.lockedSettings },
    allowedRegistries: [...verified.allowedRegistries],
    portRules: verified.portRules ?? null,
  };
  return { policy, config, document: verified.document };
}

/** Whether a policy is enforced: a valid one, or an expired one still in force. */
export function policyEnforced(policy: AppPolicy): boolean {
  return policy.state === 'valid' || policy.state === 'expired';
}

/** The settings the policy locks ({} when none is in force). */
export function policyLocks(policy: AppPolicy): LockedSettings {
  return policyEnforced(policy) ? policy.lockedSettings : {};
}

/** The port rules in force and who set them, for binding and messages; null when there are none. */
export function policyPortRules(policy: AppPolicy): PortRulesInForce | null {
  if (!policyEnforced(policy) || policy.portRules === null) return null;
  return { rules: policy.portRules, source: policySource(policy) ?? 'your organization' };
}

/** "Example Corp policy v3": who locked a setting, for messages; null when no policy is in force. */
export function policySource(policy: AppPolicy): string | null {
  if (!policyEnforced(policy) || policy.organization === null) return null;
  return `${policy.organization} policy v${policy.version ?? '?'}`;
}

export interface RegistryDecision {
  allowed: boolean;
  /** One sentence: why, naming the policy and the list where one applies. */
  reason: string;
  /** The reference as Docker reads it (`nginx` is docker.io/library/nginx); null when it does not parse. */
  image: ImageReference | null;
  /** The allowlist entry that matched, when one did. */
  matchedEntry: string | null;
}

/** `docker.io/library/nginx:1.27`: the normalized name, for messages. */
export function describeImage(image: ImageReference): string {
  return `${image.registry}/${image.path}${image.tag === undefined ? '' : `:${image.tag}`}${image.digest === undefined ? '' : `@${image.digest}`}`;
}

/**
 * Whether `ref` may be used under `policy` (common/policy/registry.ts does
 * the matching, the way Docker normalizes names). A reference that does not
 * parse is refused even without a policy: it is never guessed at, and no
 * registry would serve it anyway.
 */
export function registryDecision(ref: string, policy: AppPolicy): RegistryDecision {
  const image = parseImageReference(ref);
  if (image === null) {
    return { allowed: false, reason: `"${printable(ref)}" is not a valid image reference`, image: null, matchedEntry: null };
  }
  const name = describeImage(image);
  if (!policyEnforced(policy) || policy.allowedRegistries === null) {
    const why = policy.state === 'untrusted' ? `the cached policy is ignored (${policy.reason ?? 'it cannot be verified'})` : 'no organization policy is in force';
    return { allowed: true, reason: `${name} is allowed: ${why}, so every registry is allowed`, image, matchedEntry: null };
  }
  const source = policySource(policy) ?? 'the organization policy';
  const expired = policy.state === 'expired' ? ` (expired on ${formatDay(policy.expires ?? 'an unknown date')}, still in force until a newer one arrives)` : '';
  const matchedEntry = policy.allowedRegistries.find((entry) => entryMatches(entry, image)) ?? null;
  if (matchedEntry !== null) {
    return { allowed: true, reason: `${name} is allowed by "${matchedEntry}" in ${source}${expired}`, image, matchedEntry };
  }
  const list = policy.allowedRegistries.length === 0 ? 'it allows no registry at all' : `it allows only: ${policy.allowedRegistries.join(', ')}`;
  return { allowed: false, reason: `${name} is not allowed by ${source}${expired}: ${list}`, image, matchedEntry: null };
}

/** A user's input echoed back: bounded, control and format characters escaped, so it cannot garble a terminal. */
export function printable(text: string): string {
  const bounded = text.length > 200 ? `${text.slice(0, 200)}…` : text;
  return bounded.replace(/[\p{C}\p{Zl}\p{Zp}]/gu, (c) => `\\u${c.codePointAt(0)!.toString(16).padStart(4, '0')}`);
}
