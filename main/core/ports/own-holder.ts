import { isIP } from 'node:net';
import { ApiError } from '../../../common/api/backend-api';
import { protocolOf, type MappingSpec } from '../../../common/ports/mapping';
import { formatListen, formatTarget } from '../../../common/ports/parse';

/**
 * "In use by another program" is wrong advice when the program is Berth:
 * one of its own listening mappings can hold the port. On Linux a listening
 * socket on the any-address (0.0.0.0, or :: for IPv6: Berth's IPv6 sockets
 * are IPv6-only) takes the port on every address of its family, and a
 * specific address's listener keeps the any-address from binding.
 */

function isAnyAddress(address: string): boolean {
  return address === '0.0.0.0' || address === '::';
}

/** A listening mapping of ours whose socket can be the one that holds `spec`'s port. */
export function ownHolder(spec: Pick<MappingSpec, 'address' | 'port' | 'protocol'>, listening: readonly MappingSpec[]): MappingSpec | undefined {
  const family = isIP(spec.address);
  return listening.find(
    (other) =>
      other.port === spec.port &&
      // TCP and UDP ports are separate: a UDP mapping never holds a TCP port.
      protocolOf(other) === protocolOf(spec) &&
      isIP(other.address) === family &&
      other.address !== spec.address &&
      (isAnyAddress(other.address) || isAnyAddress(spec.address)),
  );
}

/** PORT_IN_USE reworded when the holder is one of Berth's own mappings; any other error as it is. */
export function explainOwnHolder(error: ApiError, spec: Pick<MappingSpec, 'address' | 'port' | 'protocol'>, listening: readonly MappingSpec[]): ApiError {
  if (error.code !== 'PORT_IN_USE') return error;
  const holder = ownHolder(spec, listening);
  if (holder === undefined) return error;
  return new ApiError(
    'PORT_IN_USE',
    `${formatListen(spec)} is in use by Berth's own mapping ${formatListen(holder)} (to ${formatTarget(holder.target)}): remove one of the two`,
  );
}
