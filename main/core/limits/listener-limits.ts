/**
 * Caps and deadlines of the listeners the backend owns (docs/SECURITY.md T33):
 * every connection costs a file descriptor and some memory, and each of
 * these listeners must stay usable, and leave the user's port mappings
 * usable, whatever a stuck script or another local user does.
 */

/** A positive whole number of milliseconds from the environment, else the default (tests shorten deadlines). */
function msFromEnv(name: string, fallback: number): number {
  const value = Number(process.env[name]);
  return Number.isInteger(value) && value > 0 ? value : fallback;
}

/** The control socket (the CLI; only the user's own processes reach it). */
export function controlLimits(): {
  maxConnections: number;
  maxSubscribers: number;
  idleMs: number;
  lineMs: number;
  maxQueuedBytes: number;
} {
  return {
    // The CLI opens one connection per command: 64 at once is a runaway script, not a person.
    maxConnections: 64,
    // Subscribers stay connected; they may not crowd out the calls.
    maxSubscribers: 16,
    // A connection with no call in flight and no subscription, silent this long, is closed
    // (the CLI writes its call at once and closes when answered).
    idleMs: msFromEnv('BERTH_CONTROL_IDLE_MS', 30_000),
    // A line begun must end within this long: half a message is never waited for forever.
    lineMs: msFromEnv('BERTH_CONTROL_LINE_MS', 10_000),
    // Replies and events a peer does not read pile up in memory: past this, it is dropped.
    maxQueuedBytes: 16 * 1024 * 1024,
  };
}

/** Browser mode's HTTP server on 127.0.0.1 (any local user can connect; only ours is served, T25). */
export const BROWSER_LIMITS = {
  /** Connections of our own user at once (pages, calls, event streams). */
  maxOwnConnections: 64,
  /** Connections not yet known to be ours (their owner is being looked up); more are closed unread. */
  maxUnchecked: 64,
  /** Event streams (one per open window) at once, counted within the own connections. */
  maxEventStreams: 16,
  /** The request line and headers must arrive within this long. */
  headersTimeoutMs: 10_000,
  /** The whole request (a call's body is at most 64 KiB) within this long. */
  requestTimeoutMs: 30_000,
  /** An idle kept-alive connection is closed after this long. */
  keepAliveTimeoutMs: 5_000,
  /** A connection silent in both directions this long is closed (event streams send a heartbeat). */
  idleTimeoutMs: 60_000,
  /** How often Node checks the two timeouts above. */
  checkIntervalMs: 1_000,
} as const;
