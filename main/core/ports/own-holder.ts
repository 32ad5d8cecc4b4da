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

type Where = Pick<MappingSpec, 'address' | 'port' | 'protocol'>;

/**
 * Whether a socket of Berth's listening on `holder` keeps `wanted` from
 * binding: the same port and protocol (TCP and UDP ports are separate), the
 * same family, and the same address or an any-address on either side.
 * Addresses are compared as given: pass them in one spelling (canonicalAddress).
 */
export function mayHold(holder: Where, wanted: Where): boolean {
  return (
    holder.port === wanted.port &&
    protocolOf(holder) === protocolOf(wanted) &&
    isIP(holder.address) === isIP(wanted.address) &&
    (holder.address === wanted.address || isAnyAddress(holder.address) || isAnyAddress(wanted.address))
  );
}

/** A listening mapping of ours whose socket can be the one that holds `spec`'s port. */
export function ownHolder(spec: Where, listening: readonly MappingSpec[]): MappingSpec | undefined {
  // The same address is the same mapping (a duplicate is refused by its id before any bind).
  return listening.find((other) => other.address !== spec.address && mayHold(other, spec));
}

/** PORT_IN_USE reworded when the holder is one of Berth's own mappings; any other error as it is. */
export function explainOwnHolder(error: ApiError, spec: Where, listening: readonly MappingSpec[]): ApiError {
  if (error.code !== 'PORT_IN_USE') return error;
  const holder = ownHolder(spec, listening);
  if (holder === undefined) return error;
  return new ApiError(
    'PORT_IN_USE',
    `${formatListen(spec)} is in use by Berth's own mapping ${formatListen(holder)} (to ${formatTarget(holder.target)}): remove one of the two`,
  );
}
