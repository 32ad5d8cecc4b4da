import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { backoffDelay, nextFetch, PolicyRefetch, POLICY_FIRST_RETRY_MS, POLICY_REFRESH_MS, type FetchOutcome, type PolicyTiming } from './refetch-schedule';

/**
 * The schedule's arithmetic only, with fake timers: when the next fetch is
 * due after each outcome. That a policy published after expiry is fetched
 * by the running app, over real HTTP and through the real helper, is shown
 * in refetch.test.ts.
 */
const MIN = 60_000;
const HOUR = 60 * MIN;
const options = { firstRetryMs: POLICY_FIRST_RETRY_MS, maxMs: POLICY_REFRESH_MS };
const EXPIRED: PolicyTiming = { state: 'expired', expires: '2020-01-01T00:00:00Z' };
const NONE: PolicyTiming = { state: 'none', expires: null };

describe('nextFetch', () => {
  test('the back-off: 1 min, doubling, capped at 6 h', () => {
    const delays = Array.from({ length: 12 }, (_, n) => backoffDelay(n, MIN, 6 * HOUR) / MIN);
    expect(delays).toEqual([1, 2, 4, 8, 16, 32, 64, 128, 256, 360, 360, 360]);
    expect(backoffDelay(10_000, MIN, 6 * HOUR)).toBe(6 * HOUR);
  });

  test('an expired policy, or a failed fetch, is a retry; a current one waits 6 h, or until it expires', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(nextFetch('unchanged', EXPIRED, 0, now, options)).toEqual({ delayMs: MIN, retry: true });
    expect(nextFetch('failed', NONE, 3, now, options)).toEqual({ delayMs: 8 * MIN, retry: true });
    expect(nextFetch('stored', { state: 'valid', expires: '2027-01-01T00:00:00Z' }, 5, now, options)).toEqual({ delayMs: 6 * HOUR, retry: false });
    expect(nextFetch('unchanged', { state: 'valid', expires: '2026-01-01T02:00:00Z' }, 0, now, options)).toEqual({ delayMs: 2 * HOUR, retry: false });
    // Expiring within the minute: not sooner than the first retry.
    expect(nextFetch('unchanged', { state: 'valid', expires: '2026-01-01T00:00:10Z' }, 0, now, options)).toEqual({ delayMs: MIN, retry: false });
    expect(nextFetch('no-url', EXPIRED, 4, now, options)).toEqual({ delayMs: 6 * HOUR, retry: false });
    expect(nextFetch('unchanged', NONE, 0, now, options)).toEqual({ delayMs: 6 * HOUR, retry: false });
  });
});

describe('PolicyRefetch', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: Date.parse('2026-01-01T00:00:00Z') });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  /** A schedule whose fetches answer from `outcomes` and record when they ran (minutes since start). */
  function schedule(outcomes: Array<[FetchOutcome, PolicyTiming]>) {
    const start = Date.now();
    const at: number[] = [];
    let policy: PolicyTiming = NONE;
    const refetch = new PolicyRefetch(
      async () => {
        at.push((Date.now() - start) / MIN);
        const [outcome, after] = outcomes.shift() ?? ['unchanged', policy];
        policy = after;
        return outcome;
      },
      () => policy,
    );
    return { refetch, at, policy: () => policy };
  }

  test('expired: refetched at 1, 2, 4 ... minutes until a current policy arrives, then every 6 h', async () => {
    const valid: PolicyTiming = { state: 'valid', expires: '2027-01-01T00:00:00Z' };
    const s = schedule([
      ['unchanged', EXPIRED],
      ['unchanged', EXPIRED],
      ['failed', EXPIRED],
      ['unchanged', EXPIRED],
      ['stored', valid],
      ['unchanged', valid],
    ]);
    await s.refetch.fetchNow();
    await vi.advanceTimersByTimeAsync(13 * HOUR);
    // 0, then +1, +2, +4, +8 (stored), then +6 h, +6 h.
    expect(s.at).toEqual([0, 1, 3, 7, 15, 15 + 360, 15 + 720]);
    s.refetch.close();
  });

  test('a policy that expires while the app runs is fetched again at the back-off pace, not at the 6-hour turn', async () => {
    const s = schedule([['unchanged', NONE]]);
    await s.refetch.fetchNow();
    expect(s.refetch.nextAt - Date.now()).toBe(6 * HOUR);
    await vi.advanceTimersByTimeAsync(10 * MIN);
    s.refetch.policyRead(EXPIRED);
    expect(s.refetch.nextAt - Date.now()).toBe(MIN);
    // Read again (every refresh): the earlier due time stands, it is not pushed back.
    await vi.advanceTimersByTimeAsync(30_000);
    s.refetch.policyRead(EXPIRED);
    expect(s.refetch.nextAt - Date.now()).toBe(30_000);
    s.refetch.close();
    expect(s.refetch.nextAt).toBe(Number.POSITIVE_INFINITY);
  });

  test('calls during a fetch share it; after close nothing more runs', async () => {
    let release!: () => void;
    let fetches = 0;
    const refetch = new PolicyRefetch(
      () => {
        fetches++;
        return new Promise<FetchOutcome>((resolve) => (release = () => resolve('failed')));
      },
      () => NONE,
    );
    const first = refetch.fetchNow();
    const second = refetch.fetchNow();
    release();
    await Promise.all([first, second]);
    expect(fetches).toBe(1);
    refetch.close();
    await vi.advanceTimersByTimeAsync(7 * HOUR);
    expect(fetches).toBe(1);
  });
});
