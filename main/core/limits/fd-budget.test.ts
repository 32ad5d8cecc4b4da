import { closeSync, openSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { countOpenFds, FdBudget, floors } from './fd-budget';

/**
 * The budget's arithmetic, on a limit and a count it is given (the real
 * process at its limit is in listeners.test.ts).
 */
describe('FdBudget', () => {
  it('stops browser mode first, then the forwarders, then the CLI, at any limit', () => {
    fc.assert(
      fc.property(fc.integer({ min: 64, max: 2 ** 20 }), (limit) => {
        const f = floors(limit);
        expect(f.browser).toBeGreaterThan(f.forward);
        expect(f.forward).toBeGreaterThan(f.control);
        expect(f.control).toBeGreaterThanOrEqual(8);
        expect(f.browser).toBeGreaterThanOrEqual(limit / 4);
      }),
    );
  });

  it('refuses forwarding once only its floor is free, says so once, and admits again as connections close', () => {
    // 256 descriptors, 100 open: the forwarders' floor is 16, so 70 pairs fit.
    const budget = new FdBudget({ limit: () => 256, count: () => 100, now: () => 0 });
    let changes = 0;
    budget.onChange(() => changes++);
    let pairs = 0;
    while (budget.admit('forward', 2)) pairs++;
    expect(pairs).toBe(70);
    expect(budget.forwardingRefused).toBe(true);
    expect(changes).toBe(1);
    // Browser mode stopped long before; the CLI still has room.
    expect(budget.admit('browser')).toBe(false);
    expect(budget.admit('control')).toBe(true);
    budget.release(3);
    expect(budget.forwardingRefused).toBe(false);
    expect(changes).toBe(2);
    expect(budget.admit('forward', 2)).toBe(true);
  });

  it('takes an EMFILE as full until the next count', () => {
    let now = 0;
    const budget = new FdBudget({ limit: () => 256, count: () => 100, now: () => now });
    expect(budget.admit('forward', 2)).toBe(true);
    budget.exhausted();
    expect(budget.forwardingRefused).toBe(true);
    expect(budget.admit('control')).toBe(false);
    now += 1_000;
    expect(budget.admit('control')).toBe(true);
    expect(budget.forwardingRefused).toBe(false);
  });

  it('takes a count that failed for lack of a descriptor as full, and one it cannot make as no limit', () => {
    const full = new FdBudget({ limit: () => 256, count: () => 'full', now: () => 0 });
    expect(full.admit('control')).toBe(false);
    expect(full.forwardingRefused).toBe(true);
    const unknown = new FdBudget({ limit: () => 256, count: () => undefined, now: () => 0 });
    expect(unknown.admit('browser')).toBe(true);
    expect(unknown.forwardingRefused).toBe(false);
  });

  it('counts this process\'s open descriptors', () => {
    const before = countOpenFds() as number;
    const opened = Array.from({ length: 10 }, () => openSync('/dev/null', 'r'));
    try {
      expect(countOpenFds()).toBe(before + 10);
    } finally {
      opened.forEach((fd) => closeSync(fd));
    }
  });
});
