import type { ApiError } from '../../../common/api/backend-api';

/**
 * Trying a saved mapping again when its bind failed for a reason that goes
 * away by itself: the port was in use (an old instance still exiting at
 * login), the address was not on the machine yet (VPN, Wi-Fi, docker0), or
 * IPv6 was off. Per mapping, with exponential back-off; at once when the OS
 * says the machine's addresses changed (address-watch.ts), for the mappings
 * that wait for an address. Nothing runs while nothing waits.
 */

/** What a retry waits for: a port someone holds, or an address (or address family) not there yet. */
export type RetryReason = 'port' | 'address';

/**
 * Which failures are worth trying again. Only those the machine clears by
 * itself: a port in use (EADDRINUSE) and an address missing or of a family
 * turned off (EADDRNOTAVAIL, EAFNOSUPPORT: both ADDRESS_UNAVAILABLE, from the
 * backend or the helper). Never: a policy refusal (LOCKED: a decision, not a
 * condition; the policy changing is its own event), a bad or self-forwarding
 * mapping (INVALID: the same spec fails the same way forever), "too many open
 * files" and other FAILED (the limit is the user's to raise; retrying adds
 * load where there is already too much). Waiting for the helper
 * (HELPER_NEEDED / HELPER_UNAVAILABLE) has its own watch (helper-watch.ts).
 */
export function retryReason(error: Pick<ApiError, 'code'>): RetryReason | undefined {
  switch (error.code) {
    case 'PORT_IN_USE':
      return 'port';
    case 'ADDRESS_UNAVAILABLE':
      return 'address';
    default:
      return undefined;
  }
}

export interface Backoff {
  /** The first wait. */
  baseMs: number;
  /** No wait is longer. */
  capMs: number;
  /** 0..1: each wait is shortened by up to this fraction at random, so many mappings do not retry in step. */
  jitter: number;
}

/** 1 s, doubling to a minute: quick for a port freed a moment later, cheap for one that stays taken. */
export const DEFAULT_BACKOFF: Backoff = { baseMs: 1_000, capMs: 60_000, jitter: 0.2 };

/** The wait before try number `attempt` + 1 (attempt 0 follows the first failure), in whole ms. */
export function backoffDelay(attempt: number, backoff: Backoff, random: () => number = Math.random): number {
  // 2^attempt overflows to Infinity long after it passed the cap; min() keeps it finite.
  const nominal = Math.min(backoff.capMs, backoff.baseMs * 2 ** Math.max(0, attempt));
  const raw = random();
  const r = Number.isFinite(raw) ? Math.min(1, Math.max(0, raw)) : 0;
  return Math.max(1, Math.round(nominal * (1 - backoff.jitter * r)));
}

/** An open address watch (address-watch.ts). */
export interface AddressWatcher {
  close(): void;
}

/** Opens the OS's address watch; throws when it cannot (then only the back-off runs). `onLost`: it stopped by itself. */
export type OpenAddressWatch = (onChange: () => void, onLost: () => void) => AddressWatcher;

export interface RetryOptions {
  backoff?: Partial<Backoff>;
  random?: () => number;
  /** Without it, address waits rely on the back-off alone. */
  openAddressWatch?: OpenAddressWatch;
}

/** When a waiting mapping tries next, as its status shows it. */
export interface NextRetry {
  at: number;
  /** Also at once on an address change: the watch is open and the mapping waits for an address. */
  onAddressChange: boolean;
}

interface Wait {
  reason: RetryReason;
  /** Failures in a row, from 0: the next wait is backoffDelay(attempt). */
  attempt: number;
  at: number;
  timer: NodeJS.Timeout | undefined;
}

/**
 * The retry timers of one publisher, by mapping id. `onDue(id)` asks for an
 * attempt; its outcome comes back as failed(id) (schedule the next, longer
 * wait) or cancel(id) (listening, removed, or failed for good).
 */
export class RetryScheduler {
  private readonly waits = new Map<string, Wait>();
  private readonly backoff: Backoff;
  private readonly random: () => number;
  private watch: AddressWatcher | undefined;
  private closed = false;

  constructor(
    private readonly onDue: (id: string) => void,
    private readonly options: RetryOptions = {},
  ) {
    this.backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
    this.random = options.random ?? Math.random;
  }

  /** `id` failed for `reason`: its next try comes after a wait twice the last one (up to the cap). */
  failed(id: string, reason: RetryReason): void {
    if (this.closed) return;
    const previous = this.waits.get(id);
    if (previous?.timer) clearTimeout(previous.timer);
    const attempt = previous ? previous.attempt + 1 : 0;
    const delay = backoffDelay(attempt, this.backoff, this.random);
    const timer = setTimeout(() => this.due(id), delay);
    // A wait must never keep the process alive on its own.
    timer.unref();
    this.waits.set(id, { reason, attempt, at: Date.now() + delay, timer });
    this.updateWatch();
  }

  /** No more tries for `id`; a later failure starts again from the shortest wait. */
  cancel(id: string): void {
    const wait = this.waits.get(id);
    if (!wait) return;
    if (wait.timer) clearTimeout(wait.timer);
    this.waits.delete(id);
    this.updateWatch();
  }

  has(id: string): boolean {
    return this.waits.has(id);
  }

  next(id: string): NextRetry | undefined {
    const wait = this.waits.get(id);
    if (!wait) return undefined;
    return { at: wait.at, onAddressChange: wait.reason === 'address' && this.watch !== undefined };
  }

  /** Tries the matching waits at once, their back-off reset (something they wait for just changed). */
  retryNow(matches: (id: string, reason: RetryReason) => boolean): void {
    const due: string[] = [];
    for (const [id, wait] of this.waits) {
      if (!matches(id, wait.reason)) continue;
      if (wait.timer) clearTimeout(wait.timer);
      // -1: the failure this attempt may end in counts as the first again.
      Object.assign(wait, { attempt: -1, at: Date.now(), timer: undefined });
      due.push(id);
    }
    for (const id of due) this.onDue(id);
  }

  /** Stops every timer and the address watch; nothing is scheduled afterwards. */
  close(): void {
    this.closed = true;
    for (const wait of this.waits.values()) if (wait.timer) clearTimeout(wait.timer);
    this.waits.clear();
    this.updateWatch();
  }

  /** Is the address watch open (for tests and diagnostics)? */
  get watchingAddresses(): boolean {
    return this.watch !== undefined;
  }

  private due(id: string): void {
    const wait = this.waits.get(id);
    if (!wait) return;
    wait.timer = undefined;
    this.onDue(id);
  }

  /** The address watch is open exactly while some mapping waits for an address. */
  private updateWatch(): void {
    const needed = !this.closed && [...this.waits.values()].some((w) => w.reason === 'address');
    if (needed && !this.watch && this.options.openAddressWatch) {
      try {
        this.watch = this.options.openAddressWatch(
          () => this.retryNow((_id, reason) => reason === 'address'),
          () => {
            this.watch = undefined;
          },
        );
      } catch {
        // No watch (out of descriptors, a sandbox without netlink): the back-off alone still gets there.
        this.watch = undefined;
      }
    } else if (!needed && this.watch) {
      this.watch.close();
      this.watch = undefined;
    }
  }
}
