import { execFileSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { openFdCount } from '../../../native/test-helpers';
import { watchAddresses } from './address-watch';

// The real watch in the suite's private network namespace (npm test), as root;
// the addresses are this file's own (10.216.0.0/16 on lo).

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0).reverse()) cleanup();
});

function addAddress(cidr: string): void {
  execFileSync('ip', ['addr', 'add', cidr, 'dev', 'lo']);
  cleanups.push(() => execFileSync('ip', ['addr', 'del', cidr, 'dev', 'lo']));
}

describe('watchAddresses', () => {
  it('calls back when an address is added, and holds one descriptor until closed', async () => {
    const before = openFdCount();
    let changes = 0;
    let wake: () => void = () => undefined;
    const watcher = watchAddresses(
      () => {
        changes++;
        wake();
      },
      () => {
        throw new Error('the watch was lost');
      },
    );
    expect(openFdCount()).toBe(before + 1);
    const changed = new Promise<void>((resolve) => (wake = resolve));
    addAddress('10.216.0.1/32');
    await changed;
    expect(changes).toBeGreaterThanOrEqual(1);
    watcher.close();
    watcher.close(); // idempotent
    expect(openFdCount()).toBe(before);
  });

  it('is quiet once closed: a change afterwards calls nothing', async () => {
    let after = 0;
    let closed = false;
    const first = watchAddresses(
      () => {
        if (closed) after++;
      },
      () => undefined,
    );
    first.close();
    closed = true;
    // A second watch sees the change: by the time it has, the first (had it lived) would have too.
    let wake: () => void = () => undefined;
    const seen = new Promise<void>((resolve) => (wake = resolve));
    const second = watchAddresses(() => wake(), () => undefined);
    cleanups.push(() => second.close());
    addAddress('10.216.0.2/32');
    await seen;
    await new Promise((resolve) => setImmediate(resolve));
    expect(after).toBe(0);
  });
});
