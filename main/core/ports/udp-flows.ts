/**
 * The UDP forwarder's flow table: one entry per client address (its raw
 * socket address, see native/datagram.ts), each with the socket that talks
 * to the target for that client. UDP has no connection to end, so a flow
 * ends when it has been idle for `idleMs`, and the table is bounded: when
 * full, the flow idle the longest makes room for a new client. Pure
 * arithmetic on a clock it is given; the forwarder owns the sockets.
 */

/** DNS-like traffic: a query and its answer are a flow; a minute of silence ends it. */
export const DEFAULT_UDP_IDLE_MS = 60_000;
/** Flows (one socket each) kept at once per mapping: far beyond a developer's clients, small next to the fd budget. */
export const DEFAULT_UDP_MAX_FLOWS = 1024;

export interface FlowTableOptions {
  idleMs?: number;
  maxFlows?: number;
  now?: () => number;
}

interface Slot<T> {
  value: T;
  lastActive: number;
}

export class FlowTable<T> {
  /** In order of last activity, oldest first (a Map keeps insertion order: touch() re-inserts). */
  private readonly slots = new Map<string, Slot<T>>();
  readonly idleMs: number;
  readonly maxFlows: number;
  private readonly now: () => number;

  constructor(options: FlowTableOptions = {}) {
    this.idleMs = options.idleMs ?? DEFAULT_UDP_IDLE_MS;
    this.maxFlows = options.maxFlows ?? DEFAULT_UDP_MAX_FLOWS;
    if (!Number.isInteger(this.maxFlows) || this.maxFlows < 1) throw new RangeError('maxFlows must be a positive integer');
    if (!(this.idleMs > 0)) throw new RangeError('idleMs must be positive');
    this.now = options.now ?? Date.now;
  }

  get size(): number {
    return this.slots.size;
  }

  /** The flow of `key`, left as it is (not marked active); undefined when there is none. */
  get(key: string): T | undefined {
    return this.slots.get(key)?.value;
  }

  /** The flow of `key`, marked active now; undefined when there is none. */
  touch(key: string): T | undefined {
    const slot = this.slots.get(key);
    if (slot === undefined) return undefined;
    slot.lastActive = this.now();
    this.slots.delete(key);
    this.slots.set(key, slot);
    return slot.value;
  }

  /**
   * Adds a flow for `key` (which must have none). Returns the flow evicted to
   * make room (the one idle the longest), if the table was full: the caller closes it.
   */
  add(key: string, value: T): T | undefined {
    if (this.slots.has(key)) throw new Error('a flow for this client already exists');
    let evicted: T | undefined;
    if (this.slots.size >= this.maxFlows) {
      const [oldestKey, oldest] = this.slots.entries().next().value as [string, Slot<T>];
      this.slots.delete(oldestKey);
      evicted = oldest.value;
    }
    this.slots.set(key, { value, lastActive: this.now() });
    return evicted;
  }

  /** Forgets `key`'s flow (closed by its owner); true if it was there. */
  delete(key: string): boolean {
    return this.slots.delete(key);
  }

  /** Removes and returns every flow idle for `idleMs` or longer, oldest first. */
  expire(): T[] {
    const cutoff = this.now() - this.idleMs;
    const expired: T[] = [];
    for (const [key, slot] of this.slots) {
      // Ordered by activity: the first one still active ends the walk.
      if (slot.lastActive > cutoff) break;
      this.slots.delete(key);
      expired.push(slot.value);
    }
    return expired;
  }

  /** How long until the oldest flow expires (ms, at least 0), or undefined when empty. */
  nextExpiryIn(): number | undefined {
    const first = this.slots.values().next();
    if (first.done === true) return undefined;
    return Math.max(0, first.value.lastActive + this.idleMs - this.now());
  }

  /** Every flow, removed (closing the forwarder). */
  clear(): T[] {
    const all = [...this.slots.values()].map((slot) => slot.value);
    this.slots.clear();
    return all;
  }
}
