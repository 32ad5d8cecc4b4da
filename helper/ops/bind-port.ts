import { bindSocket } from '../../native';
import { ProtocolError, type ErrorCode } from '../../common/protocol';
import { errnoCode } from '../../common/errno';
import { assertNotLocked } from './policy-locks';
import type { OperationHandler } from './types';

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

/**
 * Binds as root and hands the socket back. The args were validated against
 * the schema (literal address, 1..65535, tcp|udp); the addon checks them again.
 * No SO_REUSEPORT, so no port can be shared with another root service.
 */
export const bindPort: OperationHandler<'bindPort'> = (args, { config }) => {
  assertNotLocked(config, 'privilegedPortMapping', (on) => on, 'privileged port mapping');
  const where = `${args.protocol} ${args.address.includes(':') ? `[${args.address}]` : args.address}:${args.port}`;
  let fd: number;
  try {
    fd = bindSocket(args.address, args.port, args.protocol, LISTEN_BACKLOG);
  } catch (error) {
    const errno = errnoCode(error);
    const known = errno === undefined ? undefined : BIND_ERRORS[errno];
    if (known) throw new ProtocolError(known.code, `${where} ${known.message}`);
    throw new ProtocolError('INTERNAL', `binding ${where} failed (${errno ?? 'unknown error'})`);
  }
  return { result: { address: args.address, port: args.port, protocol: args.protocol }, fds: [fd] };
};
