import { BlockList, isIP } from 'node:net';
import { z } from 'zod';

/**
 * The organization's port rules: which ports Berth may publish, on which
 * addresses, and UDP. Part of the signed policy; enforced by the helper for
 * every socket it binds (the allowed user could skip the app) and by the
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

/** What is asked for: a literal address, a port, a protocol. */
export interface PortRequest {
  address: string;
  port: number;
  protocol: 'tcp' | 'udp';
}

/** Privileged UDP on loopback only unless the policy says otherwise. */
export const DEFAULT_PRIVILEGED_UDP: UdpScope = 'loopback';

function inEntry(port: number, entry: PortEntry): boolean {
  if (typeof entry === 'number') return port === entry;
  const [lo, hi] = entry.split('-').map(Number) as [number, number];
  return port >= lo && port <= hi;
}

const family = (address: string): 'ipv4' | 'ipv6' => (isIP(address) === 6 ? 'ipv6' : 'ipv4');

/** BlockList compares addresses, not spellings: "0:0::0:1" is ::1, and an IPv4-mapped ::ffff:127.0.0.1 is 127.0.0.1. */
const WILDCARD = new BlockList();
WILDCARD.addAddress('0.0.0.0', 'ipv4');
WILDCARD.addAddress('::', 'ipv6');
const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

/** 0.0.0.0 or :: — every address of the machine. */
export function isWildcardAddress(address: string): boolean {
  return isIP(address) !== 0 && WILDCARD.check(address, family(address));
}

/** 127.0.0.0/8 or ::1, however spelled (an IPv4-mapped loopback counts). */
export function isLoopbackAddress(address: string): boolean {
  return isIP(address) !== 0 && LOOPBACK.check(address, family(address));
}

/** The entries of a list, for a message: "25, 135-139". */
export function describeEntries(entries: readonly PortEntry[]): string {
  return entries.map(String).join(', ');
}

/**
 * Why the rules refuse `request`, as the end of a sentence ("port 25 is
 * denied"), or undefined when they allow it. `udpDefault` is what applies
 * when the rules do not mention UDP: loopback only for the helper's
 * privileged ports, anywhere for a port the user binds themselves.
 */
export function portRuleRefusal(rules: PortRules | undefined, request: PortRequest, udpDefault: UdpScope = 'any'): string | undefined {
  const { port, address, protocol } = request;
  if (rules?.deny?.some((entry) => inEntry(port, entry)) === true) return `port ${port} is on its list of denied ports`;
  if (rules?.allow !== undefined && !rules.allow.some((entry) => inEntry(port, entry))) {
    return rules.allow.length === 0
      ? 'no port may be published'
      : `port ${port} is not among its allowed ports (${describeEntries(rules.allow)})`;
  }
  if (rules?.wildcardAddresses === false && isWildcardAddress(address)) {
    return 'ports may not listen on every address (0.0.0.0 or ::); use 127.0.0.1 or a specific address';
  }
  if (protocol === 'udp') {
    const scope = rules?.udp ?? udpDefault;
    if (scope === 'none') return 'UDP ports may not be published';
    if (scope === 'loopback' && !isLoopbackAddress(address)) return 'UDP ports may be published on loopback addresses only (127.0.0.1, ::1)';
  }
  return undefined;
}
