/**
 * When the backend fetches the organization policy again. A policy in force
 * and current is fetched every 6 hours (admins renew by publishing a new
 * version), and at the latest when it expires. An expired one, or a fetch
 * that failed, is fetched again soon: after a minute, then doubling up to the
 * 6-hour cap, and back to the normal pace once a fetch succeeds with a
 * current policy. So a policy published after expiry arrives within minutes,
 * without a restart, and a server that is down is not hammered.
 */

/** What one fetch came to (refresh-from-config.ts). */
export type FetchOutcome = 'stored' | 'unchanged' | 'no-url' | 'failed';

/** The policy in force, as far as timing goes (the capabilities report's policy has these fields). */
export interface PolicyTiming {
  state: 'none' | 'valid' | 'expired' | 'untrusted';
  /** ISO 8601; null when no policy is in force. */
  expires: string | null;
}

export interface RefetchOptions {
  /** The first retry after an expired policy or a failed fetch; doubled at each further one. */
  firstRetryMs?: number;
  /** The normal pace, and the cap of the back-off. */
  maxMs?: number;
  now?: () => number;
}

export const POLICY_REFRESH_MS = 6 * 60 * 60 * 1000;
export const POLICY_FIRST_RETRY_MS = 60 * 1000;

/** The back-off's n-th delay (n = 0 for the first retry): first * 2^n, at most max. */
export function backoffDelay(retries: number, firstMs: number, maxMs: number): number {
  // 2^n grows past any cap long before it loses precision: stop doubling at the cap.
  let delay = firstMs;
  for (let i = 0; i < retries && delay < maxMs; i++) delay *= 2;
  return Math.min(delay, maxMs);
}

/**
 * The delay before the next fetch, and whether it is a retry (which counts
 * towards the back-off). `retries` is how many retries came before this one.
 */
export function nextFetch(
  outcome: FetchOutcome,
  policy: PolicyTiming,
  retries: number,
  now: number,
  options: { firstRetryMs: number; maxMs: number },
): { delayMs: number; retry: boolean } {
  const { firstRetryMs, maxMs } = options;
  if (outcome === 'no-url') return { delayMs: maxMs, retry: false };
  if (outcome === 'failed' || policy.state === 'expired') return { delayMs: backoffDelay(retries, firstRetryMs, maxMs), retry: true };
  const expires = policy.state === 'valid' && policy.expires !== null ? Date.parse(policy.expires) : Number.NaN;
  // A current policy: fetched again at the normal pace, or when it expires if that comes first.
  const untilExpiry = Number.isNaN(expires) ? maxMs : Math.max(expires - now, firstRetryMs);
  return { delayMs: Math.min(untilExpiry, maxMs), retry: false };
}

export class PolicyRefetch {
  private timer: NodeJS.Timeout | undefined;
  private dueAt = Number.POSITIVE_INFINITY;
  private retries = 0;
  private running: Promise<void> | undefined;
  private closed = false;
  private readonly firstRetryMs: number;
  private readonly maxMs: number;
  private readonly now: () => number;

  constructor(
    private readonly fetch: () => Promise<FetchOutcome>,
    private readonly policy: () => PolicyTiming,
    options: RefetchOptions = {},
  ) {
    this.firstRetryMs = options.firstRetryMs ?? POLICY_FIRST_RETRY_MS;
    this.maxMs = options.maxMs ?? POLICY_REFRESH_MS;
    this.now = options.now ?? Date.now;
  }

  /** Fetches now (at start, when the helper is back), then on schedule; calls meanwhile share the fetch. */
  fetchNow(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.running ??= (async () => {
      let outcome: FetchOutcome;
      try {
        outcome = await this.fetch();
      } catch {
        outcome = 'failed';
      }
      const next = nextFetch(outcome, this.policy(), this.retries, this.now(), { firstRetryMs: this.firstRetryMs, maxMs: this.maxMs });
      this.retries = next.retry ? this.retries + 1 : 0;
      this.arm(next.delayMs);
    })().finally(() => (this.running = undefined));
    return this.running;
  }

  /**
   * The backend read the policy in force (every refresh): one that expired
   * since is fetched again at the back-off's pace, not at the next 6-hour turn.
   */
  policyRead(policy: PolicyTiming): void {
    if (this.closed || this.running !== undefined || policy.state !== 'expired') return;
    const delay = backoffDelay(this.retries, this.firstRetryMs, this.maxMs);
    if (this.now() + delay < this.dueAt) this.arm(delay);
  }

  /** When the next fetch is due (ms since the epoch; Infinity when none is). */
  get nextAt(): number {
    return this.dueAt;
  }

  close(): void {
    this.closed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.dueAt = Number.POSITIVE_INFINITY;
  }

  private arm(delayMs: number): void {
    if (this.closed) return;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.dueAt = this.now() + delayMs;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.dueAt = Number.POSITIVE_INFINITY;
      void this.fetchNow();
    }, delayMs);
    this.timer.unref();
  }
}
