import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { probeBind } from '../../../native';
import { portHolderRows } from '../../../common/net/proc-net';
import { errnoCode } from '../../../common/errno';
import { isLoopbackAddress, isWildcardAddress } from '../../../common/policy/port-rule-check';

/**
 * Who already serves a port, and whether a new socket would shadow them.
 *
 * The kernel refuses a second socket on the very same address and port, but
 * not one on a sibling address that the same names reach: with root's
 * service on 127.0.0.1:631 only, a user's socket on [::1]:631 is allowed,
 * and a root client of `localhost:631` that tries ::1 first reaches the
 * user's impostor. So before binding for a user the helper looks at every
 * socket on the port (Linux: /proc/net, which lists every socket of the
 * network namespace with its owner's uid).
 */

export interface PortHolder {
  address: string;
  port: number;
  /** The socket's owner (its inode's uid, as `ss -e` shows). */
  uid: number;
}

/**
 * The sockets a /proc/net table lists on `port`: for TCP only listeners
 * (a connection's local port is not a service), for UDP every bound socket.
 * A dual-stack socket on ::ffff:127.0.0.1 comes back as 127.0.0.1.
 */
export function holdersIn(text: string, port: number, protocol: 'tcp' | 'udp', littleEndian?: boolean): PortHolder[] {
  return portHolderRows(text, port, protocol, littleEndian).map((row) => ({ address: row.local.address, port, uid: row.uid }));
}

/**
 * Whether clients that name one address can end up at the other: the same
 * address, a wildcard and anything, or the two loopbacks (localhost is both
 * 127.0.0.1 and ::1, and which one a client tries first varies).
 */
export function reachSameNames(a: string, b: string): boolean {
  if (isWildcardAddress(a) || isWildcardAddress(b)) return true;
  const loopA = isLoopbackAddress(a);
  const loopB = isLoopbackAddress(b);
  if (loopA && loopB) return isIP(a) !== isIP(b) || sameAddress(a, b);
  return sameAddress(a, b);
}

function sameAddress(a: string, b: string): boolean {
  if (isIP(a) !== isIP(b)) return false;
  if (isIP(a) === 4) return a === b;
  return canonicalV6(a) === canonicalV6(b);
}

/** The WHATWG URL parser's one spelling of an IPv6 address, so "0:0::1" and "::1" compare equal. */
function canonicalV6(v6: string): string {
  return new URL(`http://[${v6}]/`).hostname;
}

/** Every socket on `port` in this network namespace (Linux), or undefined where the table cannot be read. */
export function portHolders(port: number, protocol: 'tcp' | 'udp'): PortHolder[] | undefined {
  if (process.platform !== 'linux') return undefined;
  const holders: PortHolder[] = [];
  for (const table of [protocol, `${protocol}6`]) {
    let text: string;
    try {
      text = readFileSync(`/proc/net/${table}`, 'utf8');
    } catch {
      continue; // no IPv6 in this kernel: no tcp6 table, and no IPv6 sockets either
    }
    holders.push(...holdersIn(text, port, protocol));
  }
  return holders;
}

/** The other address family's wildcard: binding it conflicts with every socket of that family on the port. */
function otherFamilyWildcard(address: string): string {
  return isIP(address) === 4 ? '::' : '0.0.0.0';
}

/**
 * Whether any socket of the other family holds the port: a probe bind of that
 * family's wildcard (no SO_REUSEADDR, never listening) fails with EADDRINUSE
 * if so. Microseconds, where reading /proc/net walks the kernel's whole
 * connection table (tens of milliseconds on a large machine). Any other
 * failure (IPv6 turned off) means no such socket can exist.
 */
function otherFamilyHeld(address: string, port: number, protocol: 'tcp' | 'udp'): boolean {
  try {
    return !probeBind(otherFamilyWildcard(address), port, protocol);
  } catch (error) {
    return errnoCode(error) === 'EADDRINUSE';
  }
}

/**
 * The socket, not the caller's own, that a new one on address:port would
 * shadow; `unknown` where another family holds the port but its owner
 * cannot be read (macOS: refused to be safe). The same family needs no
 * look: the kernel refuses a second socket on the same address or beside a
 * wildcard by itself.
 */
export function findShadowed(address: string, port: number, protocol: 'tcp' | 'udp', callerUid: number): PortHolder | 'unknown' | undefined {
  if (!otherFamilyHeld(address, port, protocol)) return undefined;
  const holders = portHolders(port, protocol);
  if (holders === undefined) return 'unknown';
  return shadowedHolder(address, holders, callerUid);
}

/**
 * The first socket, not the caller's own, that a new socket on
 * address:port would shadow. The caller's own sockets (Berth publishing
 * localhost on both 127.0.0.1 and ::1, say) are theirs to pair up.
 */
export function shadowedHolder(address: string, holders: readonly PortHolder[], callerUid: number): PortHolder | undefined {
  return holders.find((holder) => holder.uid !== callerUid && reachSameNames(address, holder.address));
}
