import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FlowTable } from './udp-flows';

// The table's arithmetic on a clock of the test's own; the forwarding itself
// is tested with real sockets (udp-forwarder.test.ts, publisher-udp.test.ts).

function clock(): { now: () => number; advance(ms: number): void } {
  let t = 1_000_000;
  return { now: () => t, advance: (ms) => void (t += ms) };
}

describe('FlowTable', () => {
  it('keeps at most maxFlows, and a new client evicts the flow idle the longest', () => {
    const time = clock();
    const table = new FlowTable<string>({ maxFlows: 3, idleMs: 60_000, now: time.now });
    expect(table.add('a', 'A')).toBeUndefined();
    time.advance(1);
    expect(table.add('b', 'B')).toBeUndefined();
    time.advance(1);
    expect(table.add('c', 'C')).toBeUndefined();
    time.advance(1);
    // a is the oldest by creation, but it speaks now: b is then the one idle the longest.
    expect(table.touch('a')).toBe('A');
    expect(table.add('d', 'D')).toBe('B');
    expect(table.size).toBe(3);
    expect(table.touch('b')).toBeUndefined();
    // get() looks without making a flow active: d stays the newest, c the oldest.
    time.advance(1);
    expect(table.get('c')).toBe('C');
    expect(table.add('e', 'E')).toBe('C');
    expect(table.clear().sort()).toEqual(['A', 'D', 'E']);
  });

  it('expires exactly the flows idle for idleMs or longer, and says when the next one is due', () => {
    const time = clock();
    const table = new FlowTable<string>({ idleMs: 60_000, now: time.now });
    expect(table.nextExpiryIn()).toBeUndefined();
    table.add('a', 'A');
    time.advance(30_000);
    table.add('b', 'B');
    expect(table.nextExpiryIn()).toBe(30_000);
    time.advance(29_999);
    expect(table.expire()).toEqual([]);
    time.advance(1);
    expect(table.expire()).toEqual(['A']);
    expect(table.nextExpiryIn()).toBe(30_000);
    time.advance(20_000);
    table.touch('b'); // active again: its minute starts over
    time.advance(59_999);
    expect(table.expire()).toEqual([]);
    time.advance(1);
    expect(table.expire()).toEqual(['B']);
    expect(table.size).toBe(0);
  });

  it('refuses a second flow for one client and a table that could hold none', () => {
    const table = new FlowTable<number>();
    table.add('x', 1);
    expect(() => table.add('x', 2)).toThrow(/already exists/);
    expect(() => new FlowTable({ maxFlows: 0 })).toThrow(RangeError);
    expect(() => new FlowTable({ idleMs: 0 })).toThrow(RangeError);
  });

  it('never holds more than maxFlows and never keeps a flow past its idle time, whatever the traffic', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 8 }),
        fc.array(fc.tuple(fc.constantFrom('add', 'touch', 'expire', 'delete'), fc.integer({ min: 0, max: 11 }), fc.integer({ min: 0, max: 40_000 })), { maxLength: 200 }),
        (maxFlows, steps) => {
          const time = clock();
          const table = new FlowTable<string>({ maxFlows, idleMs: 60_000, now: time.now });
          const last = new Map<string, number>();
          for (const [op, client, wait] of steps) {
            time.advance(wait);
            const key = `c${client}`;
            if (op === 'add' && table.touch(key) !== undefined) last.set(key, time.now());
            else if (op === 'add') {
              const evicted = table.add(key, key);
              if (evicted !== undefined) {
                // The evicted flow was the least recently active one.
                const oldest = Math.min(...[...last.values()]);
                expect(last.get(evicted)).toBe(oldest);
                last.delete(evicted);
              }
              last.set(key, time.now());
            } else if (op === 'touch' && table.touch(key) !== undefined) last.set(key, time.now());
            else if (op === 'delete' && table.delete(key)) last.delete(key);
            else if (op === 'expire') {
              for (const gone of table.expire()) {
                expect(time.now() - last.get(gone)!).toBeGreaterThanOrEqual(60_000);
                last.delete(gone);
              }
              for (const at of last.values()) expect(time.now() - at).toBeLessThan(60_000);
            }
            expect(table.size).toBe(last.size);
            expect(table.size).toBeLessThanOrEqual(maxFlows);
          }
        },
      ),
    );
  });
});
