import { PROTOCOL_MAX, PROTOCOL_MIN } from './messages';
import { ProtocolError } from './errors';

/**
 * Picks the highest version both sides speak. With no overlap the message
 * says which side is behind, because that is what the user must update.
 */
export function negotiateVersion(clientRange: readonly [number, number]): number {
  const [clientMin, clientMax] = clientRange;
  if (clientMax < PROTOCOL_MIN) {
    throw new ProtocolError(
      'UNSUPPORTED_VERSION',
      `the app speaks protocol ${clientMin}-${clientMax} but the helper needs ${PROTOCOL_MIN}-${PROTOCOL_MAX}: update Berth`,
    );
  }
  if (clientMin > PROTOCOL_MAX) {
    throw new ProtocolError(
      'UNSUPPORTED_VERSION',
      `the helper speaks protocol ${PROTOCOL_MIN}-${PROTOCOL_MAX} but the app needs ${clientMin}-${clientMax}: the helper needs update (reinstall it from Berth)`,
    );
  }
  return Math.min(clientMax, PROTOCOL_MAX);
}
