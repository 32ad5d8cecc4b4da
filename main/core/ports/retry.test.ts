import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { API_ERROR_CODES } from '../../../common/api/backend-api';
import { backoffDelay, DEFAULT_BACKOFF, retryReason, RetryScheduler, type AddressWatcher, type Backoff } from './retry';

// The schedule itself, on a fake clock: the test moves time, so nothing here
// depends on how fast the machine is. The real address watch and real binds
// are in address-watch.test.ts and publisher-retry.test.ts.

const backoffs = fc
  .record({
    baseMs: fc.integer({ min: 1, max: 10_000 }),
    capMs: fc.integer({ min: 1, max: 600_000 }),
    jitter: fc.double({ min: 0, max: 1, noNaN: true }),
  })
  .filter((b) => b.capMs >= b.baseMs);

describe('backoffDelay', () => {
  it('1 s doubling to a minute, less up to a fifth at random', () => {
    const nominal = [1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000, 60_000];
    expect(nominal.map((_, attempt) => backoffDelay(attempt, DEFAULT_BACKOFF, () => 0))).toEqual(nominal);
    expect(nominal.map((_, attempt) => backoffDelay(attempt, DEFAULT_BACKOFF, () => 1))).toEqual(nominal.map((ms) => ms * 0.8));
  });

  it('stays within [nominal × (1 − jitter), nominal], never above the cap, never below 1 ms, always whole', () => {
    fc.assert(
      fc.property(backoffs, fc.integer({ min: 0, max: 10_000 }), fc.double({ min: 0, max: 1, noNaN: true }), (backoff: Backoff, attempt, r) => {
        const nominal = Math.min(backoff.capMs, backoff.baseMs * 2 ** attempt);
        const delay = backoffDelay(attempt, backoff, () => r);
        expect(Number.isInteger(delay)).toBe(true);
        expect(delay).toBeLessThanOrEqual(backoff.capMs);
        expect(delay).toBeLessThanOrEqual(Math.round(nominal));
        expect(delay).toBeGreaterThanOrEqual(Math.max(1, Math.floor(nominal * (1 - backoff.jitter))));
      }),
    );
  });

  it('never shrinks from one attempt to the next (without jitter), and reaches the cap', () => {
    fc.assert(
      fc.property(backoffs, fc.integer({ min: 0, max: 200 }), (backoff, attempt) => {
        const still = { ...backoff, jitter: 0 };
        expect(backoffDelay(attempt + 1, still)).toBeGreaterThanOrEqual(backoffDelay(attempt, still));
        expect(backoffDelay(attempt + 40, still)).toBe(backoff.capMs);
      }),
    );
  });

  it('keeps a random source that misbehaves inside the bounds', () => {
    for (const r of [-5, 7, Number.NaN]) {
      const delay = backoffDelay(3, DEFAULT_BACKOFF, () => r);
      expect(delay).toBeGreaterThanOrEqual(6_400);
      expect(delay).toBeLessThanOrEqual(8_000);
    }
  });
});

describe('retryReason', () => {
  it('retries a port in use and a missing address (or address family), nothing else', () => {
    const reasons = Object.fromEntries(API_ERROR_CODES.map((code) => [code, retryReason({ code })]));
    expect(reasons).toEqual({
      INVALID: undefined, // a bad or self-forwarding mapping fails the same way forever
      CONFLICT: undefined,
      LOCKED: undefined, // a policy's decision, not a passing condition
      NOT_FOUND: undefined,
      PORT_IN_USE: 'port',
      ADDRESS_UNAVAILABLE: 'address',
      HELPER_NEEDED: undefined, // the helper watch's business
      HELPER_UNAVAILABLE: undefined,
      BUSY: undefined,
      FAILED: undefined,
    });
  });
});

describe('RetryScheduler', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: new Date('2030-01-01T00:00:00Z') });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  /** A scheduler with a fixed jitter and a watch factory that records what it was asked. */
  function scheduler(options: { watch?: 'works' | 'fails' | 'none'; backoff?: Partial<Backoff> } = {}) {
    const due: string[] = [];
    const watches: Array<{ onChange: () => void; onLost: () => void; closed: boolean }> = [];
    const openAddressWatch = (onChange: () => void, onLost: () => void): AddressWatcher => {
      if (options.watch === 'fails') throw Object.assign(new Error('socket: EMFILE'), { code: 'EMFILE' });
      const record = { onChange, onLost, closed: false };
      watches.push(record);
      return { close: () => (record.closed = true) };
    };
    const retries = new RetryScheduler((id) => due.push(id), {
      random: () => 0,
      ...(options.backoff ? { backoff: options.backoff } : {}),
      ...(options.watch === 'none' ? {} : { openAddressWatch }),
    });
    return { retries, due, watches };
  }

  it('asks again after 1, 2, 4 … s while the failures go on, then once a minute', () => {
    const { retries, due } = scheduler();
    const waits: number[] = [];
    for (let i = 0; i < 9; i++) {
      retries.failed('a', 'port');
      const next = retries.next('a')!;
      waits.push(next.at - Date.now());
      vi.advanceTimersByTime(next.at - Date.now() - 1);
      expect(due).toHaveLength(i); // not a moment early
      vi.advanceTimersByTime(1);
      expect(due).toHaveLength(i + 1);
    }
    expect(waits).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000, 60_000]);
  });

  it('cancel: no more asks, and the next failure starts from the shortest wait', () => {
    const { retries, due } = scheduler();
    retries.failed('a', 'port');
    vi.advanceTimersByTime(1_000);
    retries.failed('a', 'port'); // 2 s now
    retries.cancel('a');
    expect(retries.has('a')).toBe(false);
    expect(retries.next('a')).toBeUndefined();
    vi.advanceTimersByTime(10 * 60_000);
    expect(due).toEqual(['a']);
    retries.failed('a', 'port');
    expect(retries.next('a')!.at - Date.now()).toBe(1_000);
  });

  it('keeps each mapping on its own schedule', () => {
    const { retries, due } = scheduler();
    retries.failed('a', 'port');
    vi.advanceTimersByTime(1_000);
    retries.failed('a', 'port'); // a: 2 s
    retries.failed('b', 'port'); // b: 1 s
    vi.advanceTimersByTime(1_000);
    expect(due).toEqual(['a', 'b']);
    vi.advanceTimersByTime(1_000);
    expect(due).toEqual(['a', 'b', 'a']);
  });

  it('opens the address watch only while a mapping waits for an address, and an address change asks at once, back-off reset', () => {
    const { retries, due, watches } = scheduler();
    retries.failed('port', 'port');
    expect(watches).toHaveLength(0); // a port wait needs no watch
    retries.failed('addr', 'address');
    expect(watches).toHaveLength(1);
    expect(retries.watchingAddresses).toBe(true);
    expect(retries.next('addr')).toEqual({ at: Date.now() + 1_000, onAddressChange: true });
    expect(retries.next('port')!.onAddressChange).toBe(false);
    vi.advanceTimersByTime(1_000);
    retries.failed('addr', 'address');
    retries.failed('port', 'port');
    expect(retries.next('addr')!.at - Date.now()).toBe(2_000);
    due.length = 0;

    watches[0]!.onChange();
    expect(due).toEqual(['addr']); // the port wait is not an address's business
    retries.failed('addr', 'address'); // still not there: the shortest wait again
    expect(retries.next('addr')!.at - Date.now()).toBe(1_000);

    retries.cancel('addr');
    expect(watches[0]!.closed).toBe(true);
    expect(retries.watchingAddresses).toBe(false);
    retries.cancel('port');
  });

  it('falls back to the back-off alone when the watch cannot be opened', () => {
    const { retries, due } = scheduler({ watch: 'fails' });
    retries.failed('addr', 'address');
    expect(retries.watchingAddresses).toBe(false);
    expect(retries.next('addr')).toEqual({ at: Date.now() + 1_000, onAddressChange: false });
    vi.advanceTimersByTime(1_000);
    expect(due).toEqual(['addr']);
  });

  it('a watch that stops by itself is opened again at the next failure', () => {
    const { retries, watches } = scheduler();
    retries.failed('addr', 'address');
    watches[0]!.onLost();
    expect(retries.next('addr')!.onAddressChange).toBe(false);
    retries.failed('addr', 'address');
    expect(watches).toHaveLength(2);
    expect(retries.next('addr')!.onAddressChange).toBe(true);
  });

  it('retryNow asks for the matching waits at once', () => {
    const { retries, due } = scheduler();
    retries.failed('a', 'port');
    retries.failed('b', 'port');
    retries.retryNow((id) => id === 'b');
    expect(due).toEqual(['b']);
    expect(retries.next('b')!.at).toBe(Date.now());
    retries.failed('b', 'port');
    expect(retries.next('b')!.at - Date.now()).toBe(1_000);
  });

  it('close: every timer and the watch stop, and nothing is scheduled afterwards', () => {
    const { retries, due, watches } = scheduler();
    retries.failed('a', 'port');
    retries.failed('b', 'address');
    retries.close();
    expect(watches[0]!.closed).toBe(true);
    retries.failed('c', 'address');
    expect(watches).toHaveLength(1);
    expect(retries.has('c')).toBe(false);
    vi.advanceTimersByTime(10 * 60_000);
    expect(due).toEqual([]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('takes a shorter or longer back-off (the tests use both)', () => {
    const { retries } = scheduler({ backoff: { baseMs: 600_000, capMs: 600_000 } });
    retries.failed('a', 'port');
    expect(retries.next('a')!.at - Date.now()).toBe(600_000);
    retries.cancel('a');
    expect(vi.getTimerCount()).toBe(0);
  });
});
