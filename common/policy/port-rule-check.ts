import { BlockList, isIP } from 'node:net';
import type { PortEntry, PortRules, UdpScope } from './port-rules';

/**
 * Checking a port against the organization's port rules (port-rules.ts
 * defines them): the helper for every socket it binds, the app for the
 * ports it binds itself. Apart from the schema so that the sandboxed
 * renderer, which shows the rules, never loads node:net's BlockList.
 */

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
