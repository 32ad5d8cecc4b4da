import { readFileSync } from 'node:fs';
import { isWildcardAddress } from '../../../common/policy/port-rule-check';

/**
 * Which ports the helper binds: only those the caller cannot bind itself.
 * Anything else root would add (a root-owned socket on port 8080, say) is
 * power the user did not need, so the helper says NOT_NEEDED instead.
 */

/** Linux's default for net.ipv4.ip_unprivileged_port_start, and the only rule on macOS. */
export const CLASSIC_PRIVILEGED_PORTS = 1024;

const UNPRIVILEGED_PORT_START = '/proc/sys/net/ipv4/ip_unprivileged_port_start';

/**
 * The lowest port an ordinary user may bind in this network namespace (Linux
 * lets an admin move it, down to 0). Read at every request: the sysctl can
 * change while the helper runs. Unreadable means the kernel default.
 */
export function unprivilegedPortStart(): number {
  try {
    const value = Number(readFileSync(UNPRIVILEGED_PORT_START, 'utf8').trim());
    return Number.isInteger(value) && value >= 0 && value <= 65536 ? value : CLASSIC_PRIVILEGED_PORTS;
  } catch {
    return CLASSIC_PRIVILEGED_PORTS;
  }
}

export interface BindNeed {
  peerUid: number;
  address: string;
  port: number;
  platform?: NodeJS.Platform;
  /** Linux's ip_unprivileged_port_start; read from /proc when not given. */
  unprivilegedStart?: number;
}

/**
 * Why the caller does not need the helper for this port, or undefined when
 * it does. Root binds anything itself. Linux: ports from
 * ip_unprivileged_port_start up. macOS (since Mojave): ports from 1024 up,
 * and any port on the wildcard addresses 0.0.0.0 and ::, which users may
 * bind; a specific address below 1024 still needs root.
 */
export function notNeededReason(need: BindNeed): string | undefined {
  const platform = need.platform ?? process.platform;
  if (need.peerUid === 0) return 'root binds ports itself';
  if (platform === 'darwin') {
    if (need.port >= CLASSIC_PRIVILEGED_PORTS) return `ports from ${CLASSIC_PRIVILEGED_PORTS} up need no privileges on macOS`;
    if (isWildcardAddress(need.address)) return 'macOS lets every user bind ports below 1024 on 0.0.0.0 and ::';
    return undefined;
  }
  const start = need.unprivilegedStart ?? unprivilegedPortStart();
  if (need.port >= start) return `ports from ${start} up need no privileges on this machine (net.ipv4.ip_unprivileged_port_start)`;
  return undefined;
}
