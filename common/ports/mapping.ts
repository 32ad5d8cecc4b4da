import { isIP } from 'node:net';
import { z } from 'zod';
import { literalAddress, port } from '../protocol/messages';

/**
 * A published port: a host address + port (TCP, or UDP) that Berth listens
 * on, and the target it forwards each connection (or, for UDP, each client's
 * datagrams) to. One definition for the UI, the CLI, the control socket and
 * the mappings file.
 */

/**
 * TCP or UDP. Absent means TCP: every mapping saved before UDP existed has
 * none, and TCP mappings are still written without it (see withProtocol), so
 * their files, ids and JSON read exactly as before.
 */
export const mappingProtocol = z.enum(['tcp', 'udp']);
export type MappingProtocol = z.infer<typeof mappingProtocol>;

/** A DNS name (RFC 1123 labels) or a literal address: where the forwarder connects. */
export const targetHost = z
  .string()
  .min(1, 'the target host is empty')
  .max(253)
  .refine(
    (s) => isIP(s) !== 0 || /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/.test(s),
    { message: 'must be a hostname or a literal IP address' },
  );

export const mappingSpec = z.strictObject({
  /** Where Berth listens: a literal address on this machine (never a name: no DNS for a bind). */
  address: literalAddress,
  port,
  /** The target is reached with the same protocol. */
  protocol: mappingProtocol.optional(),
  target: z.strictObject({ host: targetHost, port }),
});
export type MappingSpec = z.infer<typeof mappingSpec>;

/** A mapping is identified by where it listens: one listener per address, port and protocol. */
export const mappingKey = z.strictObject({ address: literalAddress, port, protocol: mappingProtocol.optional() });
export type MappingKey = z.infer<typeof mappingKey>;

/** The protocol of a key or spec: TCP unless it says UDP. */
export function protocolOf(key: { protocol?: MappingProtocol | undefined }): MappingProtocol {
  return key.protocol ?? 'tcp';
}

/**
 * The one spelling of a key's or spec's protocol: `protocol: 'udp'` for UDP,
 * none for TCP (as every TCP mapping was written before UDP existed).
 */
export function withProtocol<T extends { protocol?: MappingProtocol | undefined }>(value: T, protocol: MappingProtocol = protocolOf(value)): T {
  const copy: { protocol?: MappingProtocol } = { ...value };
  if (protocol === 'udp') copy.protocol = 'udp';
  else delete copy.protocol;
  return copy as T;
}

/**
 * `127.0.0.1:80`, `[::1]:80` for TCP (as before UDP, so saved ids and
 * scripts keep working); `127.0.0.1:53/udp` for UDP, Docker's suffix.
 */
export function mappingId(key: MappingKey): string {
  const listen = key.address.includes(':') ? `[${key.address}]:${key.port}` : `${key.address}:${key.port}`;
  return protocolOf(key) === 'udp' ? `${listen}/udp` : listen;
}

/**
 * starting: binding; listening: serving; waiting: for something that comes
 * back by itself (the helper, a port another program holds, an address not
 * up yet), tried again without the user; error: see `error`, needs the user.
 */
export const mappingState = z.enum(['starting', 'listening', 'waiting', 'error']);

/** When a waiting mapping tries its port again by itself (see common/ports/waiting.ts for the sentence). */
export const mappingRetry = z.strictObject({
  /** The next attempt, ISO 8601 UTC. */
  at: z.iso.datetime(),
  /** Also at once when this machine's addresses change (the OS tells Berth). */
  onAddressChange: z.boolean(),
});
export type MappingRetry = z.infer<typeof mappingRetry>;

export const mappingStatus = z.strictObject({
  id: z.string(),
  spec: mappingSpec,
  state: mappingState,
  /** How the port was bound: directly by the backend, or by the helper and handed over. */
  via: z.enum(['direct', 'helper']).nullable(),
  /** Why it is not listening: the cause, one sentence (a waiting one says when it tries next in `retry`). */
  error: z.strictObject({ code: z.string(), message: z.string() }).nullable(),
  /** Set while it waits for its port or address: when it tries again. Null otherwise (waiting for the helper: see helper-watch). */
  retry: mappingRetry.nullable(),
  /** TCP: connections. UDP: flows (one per client address; active = open now, failed = could not reach the target). */
  connections: z.strictObject({ active: z.number().int(), total: z.number().int(), failed: z.number().int() }),
  bytes: z.strictObject({ in: z.number(), out: z.number() }),
  /** UDP only: datagrams from clients to the target (in) and back (out). */
  packets: z.strictObject({ in: z.number().int(), out: z.number().int() }).optional(),
  /** The last connection that could not reach the target, if any (the mapping keeps listening). */
  lastTargetError: z.string().nullable(),
  /**
   * Why new connections are refused right now while the mapping keeps
   * listening: Berth is out of file descriptors (not the target's fault).
   * Clears by itself as connections close.
   */
  acceptError: z.string().nullable(),
});
export type MappingStatus = z.infer<typeof mappingStatus>;

/** The mappings file: what comes back after a restart. */
export const mappingsFile = z.strictObject({
  version: z.literal(1),
  mappings: z.array(mappingSpec).max(1000),
});
