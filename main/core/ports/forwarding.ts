import type net from 'node:net';
import { errnoCode } from '../../../common/errno';
import type { FdBudget } from '../limits/fd-budget';

/**
 * What both data planes of a published port share (./forwarder.ts picks one):
 * the forwarder's interface, its statistics, and the sentences a mapping
 * shows when its target cannot be reached or descriptors run out.
 */

/** Who moves the bytes: the addon's pump thread, or Node streams. */
export type DataPlane = 'native' | 'js';

/** A published port's forwarder: serves one listening socket, copies each connection to the target and back. */
export interface Forwarder {
  readonly target: ForwardTarget;
  /** Which data plane this forwarder runs on. */
  readonly plane: DataPlane;
  /** Where it listens (from the socket itself, so it shows what was really bound). */
  address(): net.AddressInfo;
  stats(): ForwarderStats;
  /**
   * Bytes accepted from one side and not yet handed to the kernel for the
   * other: what back-pressure keeps small. Computed on demand, for tests and diagnostics.
   */
  queuedBytes(): number;
  /** The last connection that could not reach the target, if any; the forwarder keeps listening. */
  readonly lastTargetError: string | null;
  /**
   * Why new connections are refused right now, if they are: the backend is
   * out of descriptors (its own limit, not the target's fault). Clears by
   * itself as connections close.
   */
  readonly acceptError: string | null;
  /** Stops listening (the port is free when this resolves) and destroys every open connection. */
  close(): Promise<void>;
}

export interface ForwardTarget {
  host: string;
  port: number;
}

export interface ForwarderStats {
  /** Connections open now. */
  active: number;
  /** Connections accepted since the forwarder started. */
  total: number;
  /** Connections that could not reach the target. */
  failed: number;
  /** Bytes from clients to the target. */
  bytesIn: number;
  /** Bytes from the target back to clients. */
  bytesOut: number;
}

export interface ForwarderEvents {
  /** A connection opened or closed, or a target connection failed. Never called per chunk. */
  onActivity?: () => void;
}

export interface ForwarderOptions extends ForwarderEvents {
  /**
   * Which data plane moves the bytes: 'native' (the addon's pump thread; fails if it cannot start),
   * 'js' (Node streams), or unset: native where it can run, else JS (BERTH_DATA_PLANE=js forces JS).
   */
  plane?: DataPlane;
  /** A target that neither accepts nor refuses within this long counts as down. */
  connectTimeoutMs?: number;
  /** The process's descriptors, shared with the other listeners (default: this process's budget). */
  fds?: FdBudget;
}

/** Where a host:port is shown to the user (IPv6 literals in brackets). */
function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** One sentence for a failed connection to the target; shown as the mapping's lastTargetError. */
export function describeTargetError(error: unknown, target: ForwardTarget): string {
  const where = hostPort(target.host, target.port);
  switch (errnoCode(error)) {
    case 'ECONNREFUSED':
      return `nothing is listening on ${where}`;
    case 'ENOTFOUND':
    case 'EAI_NONAME':
    case 'EAI_NODATA':
      return `${target.host} could not be resolved to an address`;
    case 'EAI_AGAIN':
      return `${target.host} could not be resolved right now (DNS did not answer)`;
    case 'ETIMEDOUT':
      return `${where} did not answer`;
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return `${where} is unreachable from this machine`;
    case 'EADDRNOTAVAIL':
      return `${where} cannot be reached from this machine (no usable local address)`;
    default: {
      const code = errnoCode(error);
      return `could not connect to ${where}${code ? ` (${code})` : ''}`;
    }
  }
}

/** Out of file descriptors: Berth's own limit, never the target's fault. */
export function outOfDescriptors(error: unknown): boolean {
  const code = errnoCode(error);
  return code === 'EMFILE' || code === 'ENFILE';
}

/** What a mapping shows while its new connections are refused for lack of descriptors. */
export function descriptorsRefusal(port: number): string {
  return `Berth has too many open connections; new connections to port ${port} are refused until some close`;
}

/** What a forwarder starts with when the caller does not say. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 30_000;
