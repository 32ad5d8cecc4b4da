import { readdirSync } from 'node:fs';
import { errnoCode } from '../../../common/errno';
import { fileLimit } from '../../../native';

/**
 * The backend's file descriptors, shared by everything that accepts
 * connections: the port forwarders (the user's own mappings), the control
 * socket (the CLI) and browser mode. A process has one descriptor table and
 * one RLIMIT_NOFILE; once it is full, accept(2) fails for every listener at
 * once, so a flood through one of them (another local user's slow connections
 * to the browser port, or to a published port) would stop the others.
 *
 * So each kind of connection may take a descriptor only while more than its
 * floor is free: browser mode stops far from the limit (a quarter of it is
 * kept back), the forwarders stop just before it (a few for the backend's own
 * files and the helper), and the CLI a little later still, so that
 * `berth ports ls` answers even while the mappings are full.
 *
 * Counting: Node has no getrlimit (the addon reads it) and no count of open
 * descriptors. Listing /proc/self/fd (macOS: /dev/fd) is exact but costs
 * about 3 µs a descriptor (16 ms at 5,000), so it runs at most once a second
 * and only when the answer matters (near the floors, or every 10 s); between
 * counts the connections this budget admits and releases are added and
 * subtracted, which keeps the estimate exact for everything that can flood.
 */

export type FdUse = 'browser' | 'control' | 'forward';

export interface FdBudgetOptions {
  /** The soft RLIMIT_NOFILE. */
  limit?: () => number;
  /** Descriptors open now, 'full' when counting itself failed for lack of one, undefined where they cannot be counted. */
  count?: () => number | 'full' | undefined;
  now?: () => number;
  /** Count again at most this often. */
  sampleMs?: number;
}

/** Counted again after this long even far from every floor (other code opens files too). */
const FAR_SAMPLE_MS = 10_000;
const DEFAULT_SAMPLE_MS = 1_000;

/** Open descriptors of this process, or 'full' when there is none left to list them with. */
export function countOpenFds(): number | 'full' | undefined {
  const dir = process.platform === 'linux' ? '/proc/self/fd' : '/dev/fd';
  try {
    // The listing holds one descriptor of its own while it runs.
    return readdirSync(dir).length - 1;
  } catch (error) {
    const code = errnoCode(error);
    return code === 'EMFILE' || code === 'ENFILE' ? 'full' : undefined;
  }
}

/** How many descriptors must stay free after a connection of each kind is admitted. */
export function floors(limit: number): Record<FdUse, number> {
  const forward = Math.max(16, Math.ceil(limit / 64));
  return {
    // "Well before the limit": a quarter of it, and never less than four times the forwarders' floor.
    browser: Math.max(4 * forward, Math.ceil(limit / 4)),
    forward,
    control: Math.max(8, Math.ceil(forward / 2)),
  };
}

export class FdBudget {
  private readonly limitOf: () => number;
  private readonly count: () => number | 'full' | undefined;
  private readonly now: () => number;
  private readonly sampleMs: number;
  private limit = Infinity;
  /** floors(limit), kept with the limit: admit and release run for every forwarded connection. */
  private floor = floors(Infinity);
  /** Open at the last count (undefined: cannot count here, only the listeners' own caps apply). */
  private sampled: number | undefined;
  private sampledAt = -Infinity;
  private heldAtSample = 0;
  private held = 0;
  private refusing = false;
  private watch: NodeJS.Timeout | undefined;
  private readonly listeners = new Set<() => void>();

  constructor(options: FdBudgetOptions = {}) {
    this.limitOf = options.limit ?? (() => fileLimit().soft);
    this.count = options.count ?? countOpenFds;
    this.now = options.now ?? Date.now;
    this.sampleMs = options.sampleMs ?? DEFAULT_SAMPLE_MS;
  }

  /** Whether a new connection of this kind may take a descriptor now; if so, it is held until released. */
  admit(use: FdUse, descriptors = 1): boolean {
    this.sampleIfDue();
    const ok = this.sampled === undefined || this.free() - descriptors >= this.floor[use];
    if (ok) this.hold(descriptors);
    this.update();
    return ok;
  }

  /** A connection admitted by admit() closed (one call per descriptor is fine). */
  release(descriptors = 1): void {
    this.held -= descriptors;
    this.update();
  }

  /**
   * accept(2) or socket(2) failed with EMFILE/ENFILE: the estimate was wrong
   * (something not admitted here took descriptors). Taken as full now, without
   * a count (a burst of failures must not list the table each time); the next
   * count, within a second, says how many are really free.
   */
  exhausted(): void {
    if (this.sampled === undefined) return;
    this.sampled = this.limit - this.held + this.heldAtSample;
    this.sampledAt = this.now();
    this.update();
  }

  /** True while new forwarded connections are refused for lack of descriptors (the mappings say so). */
  get forwardingRefused(): boolean {
    return this.refusing;
  }

  /** Called when forwardingRefused changes; returns the unsubscribe. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Free descriptors by the last count and what was admitted and released since. */
  free(): number {
    if (this.sampled === undefined) return Infinity;
    return this.limit - (this.sampled - this.heldAtSample + this.held);
  }

  private hold(descriptors: number): void {
    this.held += descriptors;
  }

  private sampleIfDue(): void {
    const now = this.now();
    const age = now - this.sampledAt;
    if (age < this.sampleMs) return;
    // Far from every floor, an estimate a few seconds old is good enough.
    if (age < FAR_SAMPLE_MS && this.free() > 2 * this.floor.browser) return;
    this.limit = this.limitOf();
    this.floor = floors(this.limit);
    // No limit (RLIM_INFINITY): nothing to keep back, nothing to count.
    const counted = Number.isFinite(this.limit) ? this.count() : undefined;
    this.sampled = counted === 'full' ? this.limit : counted;
    this.sampledAt = now;
    this.heldAtSample = this.held;
  }

  /** Tells the listeners when forwarding starts or stops being refused; counts again every second meanwhile. */
  private update(): void {
    const counted = this.sampled !== undefined;
    const refusing = counted && this.free() < this.floor.forward + 2;
    if (refusing !== this.refusing) {
      this.refusing = refusing;
      for (const listener of this.listeners) listener();
    }
    // While the floors are near, descriptors freed by anything else (or taken) are noticed by a count.
    const near = counted && this.free() <= this.floor.browser;
    if (near && this.watch === undefined) {
      this.watch = setInterval(() => {
        this.sampleIfDue();
        this.update();
      }, this.sampleMs).unref();
    } else if (!near && this.watch !== undefined) {
      clearInterval(this.watch);
      this.watch = undefined;
    }
  }
}

let shared: FdBudget | undefined;

/** The budget of this process (one descriptor table, one limit). */
export function processFdBudget(): FdBudget {
  shared ??= new FdBudget();
  return shared;
}
