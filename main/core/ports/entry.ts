import { isIP, SocketAddress } from 'node:net';
import { networkInterfaces } from 'node:os';
import { ApiError } from '../../../common/api/backend-api';
import type { MappingSpec, MappingStatus } from '../../../common/ports/mapping';
import type { Listener } from './bind';
import type { PortForwarder } from './serve';
import type { NextRetry } from './retry';

/** One published mapping as the publisher (publisher.ts) keeps it, and how it is shown. */
export interface Entry {
  readonly id: string;
  readonly spec: MappingSpec;
  state: MappingStatus['state'];
  via: Listener['via'] | null;
  error: { code: string; message: string } | null;
  forwarder: PortForwarder | undefined;
  /** In the mappings file (an add in progress is not, until it listens). */
  saved: boolean;
  /** The bind attempt in progress, and whether another was asked for meanwhile (see PortPublisher.start). */
  starting?: Promise<void>;
  again?: boolean;
}

/** What list() shows of an entry: its state, its next retry if it waits for one, its counters. */
export function statusOf(entry: Entry, next: NextRetry | undefined): MappingStatus {
  const stats = entry.forwarder?.stats();
  return {
    id: entry.id,
    spec: { ...entry.spec, target: { ...entry.spec.target } },
    state: entry.state,
    via: entry.via,
    error: entry.error,
    retry: next ? { at: new Date(next.at).toISOString(), onAddressChange: next.onAddressChange } : null,
    connections: { active: stats?.active ?? 0, total: stats?.total ?? 0, failed: stats?.failed ?? 0 },
    bytes: { in: stats?.bytesIn ?? 0, out: stats?.bytesOut ?? 0 },
    ...(entry.spec.protocol === 'udp' ? { packets: { in: stats?.packetsIn ?? 0, out: stats?.packetsOut ?? 0 } } : {}),
    lastTargetError: entry.forwarder?.lastTargetError ?? null,
    acceptError: entry.forwarder?.acceptError ?? null,
  };
}

/** The kernel's spelling of a literal address (`0:0::1` → `::1`, upper → lower case), as the socket reports it. */
export function canonicalAddress(address: string): string {
  return new SocketAddress({ address, family: isIP(address) === 6 ? 'ipv6' : 'ipv4' }).address;
}

/** This machine's interface addresses: a target on one of them reaches an any-address listener. */
export function localAddresses(): string[] {
  return Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((info) => info.address));
}

export function asApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  return new ApiError('FAILED', error instanceof Error ? error.message : String(error));
}
