import { z } from 'zod';
import { portRulesSchema } from '../policy/port-rules';
import { lockedSettingsSchema } from '../settings/schema';
import { helperDiagnosis } from '../helper/diagnosis';

/**
 * What this machine and install mode allow: one report for the UI, `berth
 * status` and the diagnostics archive. Built by main/core/capabilities.
 */

export const helperState = z.enum([
  'running',
  'user-mode',
  'not-installed',
  'not-running',
  'no-permission',
  /** Installed on this machine for other accounts, not this one: installing enrols it (an administrator's password). */
  'not-enrolled',
  'needs-update',
  'error',
]);
export type HelperStateName = z.infer<typeof helperState>;

export const capabilitiesSchema = z.strictObject({
  platform: z.string(),
  helper: z.strictObject({
    state: helperState,
    /** One sentence: what runs, or what is wrong (the diagnosis's sentence). */
    message: z.string(),
    /** What is wrong, finely, with the one fix (common/helper/diagnosis.ts): what the card and the port panel say. */
    diagnosis: helperDiagnosis,
    version: z.string().nullable(),
    bundledVersion: z.string(),
    /** The bundled helper's short content digest; null when unknown. A rebuild keeps the version but not this. */
    bundledBuild: z.string().nullable(),
    protocol: z.number().int().nullable(),
    operations: z.array(z.string()),
    /**
     * One sentence, before any prompt, when someone other than root can
     * change the helper this app would run as root (a checkout, an AppImage,
     * a user-owned app folder); null when only root can.
     */
    installWarning: z.string().nullable(),
  }),
  userMode: z.strictObject({ user: z.string(), uid: z.number().int(), limits: z.array(z.string()) }).nullable(),
  /** Can this user bind ports below 1024 without the helper? */
  directLowPortBind: z.strictObject({
    anyAddress: z.boolean(),
    specificAddress: z.boolean(),
    /** Why: the sysctl value on Linux, the OS rule on macOS. */
    detail: z.string(),
  }),
  cliTools: z.strictObject({
    location: z.enum(['system', 'user']),
    dir: z.string(),
    /** Tools linked there that point at this app. */
    linked: z.array(z.string()),
    missing: z.array(z.string()),
    /**
     * System links to this app whose program is not root's alone (another
     * owner, group/world-writable, a symlink, gone): root runs it too (`sudo
     * berth`), so they are not reported as linked. Why, one sentence each.
     */
    unsafe: z.array(z.strictObject({ name: z.string(), reason: z.string() })),
  }),
  hostsEntries: z.strictObject({
    present: z.boolean(),
    /** `address name` lines in Berth's block of the hosts file. */
    entries: z.array(z.string()),
    error: z.string().nullable(),
  }),
  policy: z.strictObject({
    state: z.enum(['none', 'valid', 'expired', 'untrusted']),
    /** Why an untrusted cache was ignored. */
    reason: z.string().nullable(),
    organization: z.string().nullable(),
    version: z.number().int().nullable(),
    expires: z.string().nullable(),
    lockedSettings: lockedSettingsSchema,
    allowedRegistries: z.array(z.string()).nullable(),
    /** The policy's port rules; null when it has none (or no policy is in force). */
    portRules: portRulesSchema.nullable(),
  }),
});
export type Capabilities = z.infer<typeof capabilitiesSchema>;

/**
 * What "asked once" remembers (settings.helperUpdateAskedFor): the bundled
 * version, and its build when known, so a rebuilt helper with the same
 * version is offered once too, and a declined one is not asked again.
 */
export function helperUpdateKey(helper: Pick<Capabilities['helper'], 'bundledVersion' | 'bundledBuild'>): string {
  return helper.bundledBuild === null ? helper.bundledVersion : `${helper.bundledVersion}+${helper.bundledBuild}`;
}

/** No policy in force: nothing locked, every registry allowed. */
export const NO_POLICY: Capabilities['policy'] = {
  state: 'none',
  reason: null,
  organization: null,
  version: null,
  expires: null,
  lockedSettings: {},
  allowedRegistries: null,
  portRules: null,
};
