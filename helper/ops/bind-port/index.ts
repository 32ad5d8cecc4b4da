import { closeSync, fchownSync } from 'node:fs';
import { bindSocket } from '../../../native';
import { ProtocolError, type ErrorCode } from '../../../common/protocol';
import { errnoCode } from '../../../common/errno';
import { formatListen } from '../../../common/ports/parse';
import { DEFAULT_PRIVILEGED_UDP, portRuleRefusal } from '../../../common/policy/port-rule-check';
import { assertNotLocked, policyFor } from '../policy-locks';
import { findShadowed } from './holders';
import { notNeededReason } from './need';
import type { OperationHandler } from '../types';

const LISTEN_BACKLOG = 511;

/** errno from bind(2)/listen(2) → the code the client maps to a user message. */
const BIND_ERRORS: Record<string, { code: ErrorCode; message: string }> = {
  EADDRINUSE: { code: 'PORT_IN_USE', message: 'is already in use' },
  EADDRNOTAVAIL: { code: 'ADDRESS_UNAVAILABLE', message: 'is not an address of this machine' },
  EAFNOSUPPORT: { code: 'ADDRESS_UNAVAILABLE', message: 'uses an address family this machine has disabled' },
  EACCES: { code: 'PERMISSION_DENIED', message: 'was refused by the operating system' },
  EPERM: { code: 'PERMISSION_DENIED', message: 'was refused by the operating system' },
  EINVAL: { code: 'BAD_REQUEST', message: 'is not a valid address and port' },
};

/** "tcp 127.0.0.1:80", "udp [::1]:53": how a socket is named in messages. */
function describe(address: string, port: number, protocol: string): string {
  return `${protocol} ${formatListen({ address, port })}`;
}

function ownerName(uid: number): string {
  return uid === 0 ? 'root' : `uid ${uid}`;
}

/**
 * Binds as root and hands the socket back, owned by the caller. The args
 * were validated against the schema (literal address, 1..65535, tcp|udp);
 * the addon checks them again. No SO_REUSEPORT, so no port can be shared
 * with another root service. In order, each refusal before anything is bound:
 */
export const bindPort: OperationHandler<'bindPort'> = (args, { config, peer }) => {
  const { address, port, protocol } = args;
  const where = describe(address, port, protocol);
  // The organization's policy, read and verified once for this request.
  const policy = policyFor(config);
  // The organization may turn privileged port mapping off altogether.
  assertNotLocked(policy, 'privilegedPortMapping', (on) => on, 'privileged port mapping');
  // Only what the caller cannot bind itself: root adds nothing to a port the user may open.
  const notNeeded = notNeededReason({ peerUid: peer.uid, address, port });
  if (notNeeded !== undefined) throw new ProtocolError('NOT_NEEDED', `${where} does not need the helper: ${notNeeded}`);
  // The organization's port rules (policy.portRules), enforced here because the user could skip the app.
  const refusal = policy === null ? undefined : portRuleRefusal(policy.portRules, args);
  if (policy !== null && refusal !== undefined) throw new ProtocolError('LOCKED_BY_POLICY', `${where} is not allowed by ${policy.organization}'s policy: ${refusal}`);
  // Unless the policy says where UDP may go, privileged UDP stays on loopback: a UDP socket on a low port
  // sends from a "secure" source port that NFS-style services on the network trust as root.
  if (policy?.portRules?.udp === undefined && portRuleRefusal({ udp: DEFAULT_PRIVILEGED_UDP }, args) !== undefined) {
    throw new ProtocolError(
      'NOT_ALLOWED',
      `${where} is not served by the helper: privileged UDP ports are served on loopback addresses only (127.0.0.1, ::1) unless your organization's policy allows more`,
    );
  }
  // Never shadow someone else's service on a sibling address the same names reach (127.0.0.1 <-> ::1, wildcards).
  const held = findShadowed(address, port, protocol, peer.uid);
  if (held === 'unknown') {
    throw new ProtocolError('PORT_IN_USE', `${where} is in use: another program serves port ${port} on an address the same names reach`);
  }
  if (held !== undefined) {
    throw new ProtocolError(
      'PORT_IN_USE',
      `${where} is in use: a program of ${ownerName(held.uid)} serves ${formatListen(held)}, which clients of the same name reach`,
    );
  }
  let fd: number;
  try {
    fd = bindSocket(address, port, protocol, LISTEN_BACKLOG);
  } catch (error) {
    const errno = errnoCode(error);
    const known = errno === undefined ? undefined : BIND_ERRORS[errno];
    if (known) throw new ProtocolError(known.code, `${where} ${known.message}`);
    throw new ProtocolError('INTERNAL', `binding ${where} failed (${errno ?? 'unknown error'})`);
  }
  giveToCaller(fd, peer.uid, peer.gid, where);
  return { result: { address, port, protocol }, fds: [fd] };
};

/**
 * The socket belongs to the caller, not to root: on Linux the socket inode's
 * owner is what `ss -e`, /proc/net and uid-based routing see, and fchown
 * updates the kernel's socket uid with it, so owner-based firewall rules
 * (nftables `meta skuid`) treat the port as the user's. macOS keeps a
 * socket's credentials from its creation (see SECURITY.md).
 */
function giveToCaller(fd: number, uid: number, gid: number, where: string): void {
  if (process.platform !== 'linux' || uid === 0) return;
  try {
    fchownSync(fd, uid, gid);
  } catch (error) {
    closeSync(fd);
    throw new ProtocolError('INTERNAL', `could not hand ${where} to uid ${uid} (${errnoCode(error) ?? 'unknown error'})`);
  }
}
