import type { AddressInfo } from 'node:net';
import { protocolOf, type MappingSpec } from '../../../common/ports/mapping';
import { Forwarder, type ForwarderOptions, type ForwarderStats, type ForwardTarget } from './forwarder';
import { UdpForwarder, type UdpForwarderOptions } from './udp-forwarder';

/**
 * What serves a published port once it is bound: the TCP forwarder
 * (forwarder.ts) or the UDP one (udp-forwarder.ts), behind one shape, so
 * the publisher and the statistics treat both alike.
 */

export interface PortForwarder {
  readonly target: ForwardTarget;
  /** Where it listens, from the socket itself. */
  address(): AddressInfo;
  /** TCP: connections. UDP: flows, plus datagrams each way. */
  stats(): ForwarderStats & { packetsIn?: number; packetsOut?: number };
  readonly lastTargetError: string | null;
  readonly acceptError: string | null;
  /** Stops serving; the port is free when this resolves. */
  close(): Promise<void>;
}

export type ServeOptions = ForwarderOptions & UdpForwarderOptions;

/** Serves the bound socket `fd` for `spec` (taking ownership of it). */
export function serveListener(spec: Pick<MappingSpec, 'protocol' | 'target'>, fd: number, options: ServeOptions = {}): Promise<PortForwarder> {
  if (protocolOf(spec) === 'udp') return UdpForwarder.listen(fd, spec.target, options);
  return Forwarder.listen(fd, spec.target, options);
}
