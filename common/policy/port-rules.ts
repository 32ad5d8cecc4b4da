import { z } from 'zod';

/**
 * The organization's port rules: which ports Berth may publish, on which
 * addresses, and UDP. Part of the signed policy; enforced by the helper for
 * every socket it binds (an enrolled user could skip the app) and by the
 * app for the ports it binds itself. One definition, read by both.
 */

/** Most entries in `allow` or `deny`: far beyond a real list, small enough to check at once. */
export const MAX_PORT_RULE_ENTRIES = 256;

const PORT_RANGE = /^([0-9]{1,5})-([0-9]{1,5})$/;

/** One port (80) or an inclusive range ("8000-8999"); a range the admin wrote backwards is an error, not empty. */
export const portEntrySchema = z.union([
  z.number().int().min(1).max(65535),
  z.string().superRefine((text, ctx) => {
    const match = PORT_RANGE.exec(text);
    const [lo, hi] = match === null ? [NaN, NaN] : [Number(match[1]), Number(match[2])];
    if (match === null) ctx.addIssue({ code: 'custom', message: 'must be a port (80) or a range written "low-high" ("8000-8999")' });
    else if (lo < 1 || hi > 65535) ctx.addIssue({ code: 'custom', message: 'ports must be 1..65535' });
    else if (lo > hi) ctx.addIssue({ code: 'custom', message: `range ${text} runs backwards: write ${hi}-${lo}` });
  }),
]);

export type PortEntry = z.infer<typeof portEntrySchema>;

/** Where UDP may be published: nowhere, on loopback addresses only, or anywhere. */
export const UDP_SCOPES = ['none', 'loopback', 'any'] as const;
export type UdpScope = (typeof UDP_SCOPES)[number];

export const portRulesSchema = z.strictObject({
  /** Only these ports may be published; absent: every port not denied. */
  allow: z.array(portEntrySchema).max(MAX_PORT_RULE_ENTRIES).optional(),
  /** Never these, even when `allow` lists them. */
  deny: z.array(portEntrySchema).max(MAX_PORT_RULE_ENTRIES).optional(),
  /** May a port listen on every address (0.0.0.0, ::), i.e. be reachable from the network? Default true. */
  wildcardAddresses: z.boolean().optional(),
  /**
   * UDP. Without a policy the helper serves privileged UDP ports on loopback
   * only (a UDP socket on a port below 1024 sends from a "secure" source port
   * that NFS-style services on the network trust as root); a policy may widen
   * that to "any", or forbid UDP altogether with "none".
   */
  udp: z.enum(UDP_SCOPES).optional(),
});

export type PortRules = z.infer<typeof portRulesSchema>;

const UDP_WORDS: Record<UdpScope, string> = {
  none: 'not allowed',
  loopback: 'on loopback addresses only (127.0.0.1, ::1)',
  any: 'on any address',
};

/**
 * The rules as lines a person reads ("Allowed ports: 80, 8000-8999"): one
 * wording for Settings, `berth status` and `berth policy verify`.
 */
export function describePortRules(rules: PortRules): string[] {
  const lines: string[] = [];
  if (rules.allow !== undefined) lines.push(`Allowed ports: ${rules.allow.length === 0 ? 'none' : rules.allow.join(', ')}`);
  if (rules.deny !== undefined && rules.deny.length > 0) lines.push(`Denied ports: ${rules.deny.join(', ')}`);
  if (rules.wildcardAddresses === false) lines.push('Every address (0.0.0.0, ::): not allowed, only specific addresses');
  if (rules.udp !== undefined) lines.push(`UDP: ${UDP_WORDS[rules.udp]}`);
  return lines.length > 0 ? lines : ['No limits'];
}
