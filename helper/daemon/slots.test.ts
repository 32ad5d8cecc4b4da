import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConnectionSlots } from './slots';

describe('connection slots per account', () => {
  it('gives each uid its own slots, and a freed slot back', () => {
    const slots = new ConnectionSlots(2);
    expect([slots.take(1000), slots.take(1000), slots.take(1000)]).toEqual([true, true, false]);
    // Another account is not affected by the first one's use.
    expect([slots.take(1001), slots.take(1001)]).toEqual([true, true]);
    slots.release(1000);
    expect(slots.take(1000)).toBe(true);
    expect(slots.take(1000)).toBe(false);
  });

  it('does not count root: it is no competing user', () => {
    const slots = new ConnectionSlots(1);
    for (let i = 0; i < 100; i++) expect(slots.take(0)).toBe(true);
    expect(slots.count(0)).toBe(0);
    expect(slots.uids).toBe(0);
  });

  it('never lets a uid past its cap, and forgets uids with nothing open (fast-check)', () => {
    const step = fc.record({ uid: fc.constantFrom(0, 1000, 1001, 65534), open: fc.boolean() });
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 8 }), fc.array(step, { maxLength: 300 }), (cap, steps) => {
        const slots = new ConnectionSlots(cap);
        // The model: what each uid holds, as the server's accept/close would have it.
        const held = new Map<number, number>();
        for (const { uid, open } of steps) {
          const now = held.get(uid) ?? 0;
          if (open) {
            const expected = uid === 0 || now < cap;
            expect(slots.take(uid)).toBe(expected);
            if (expected && uid !== 0) held.set(uid, now + 1);
          } else if (now > 0) {
            slots.release(uid);
            held.set(uid, now - 1);
          }
          for (const u of [1000, 1001, 65534]) {
            expect(slots.count(u)).toBe(held.get(u) ?? 0);
            expect(slots.count(u)).toBeLessThanOrEqual(cap);
          }
          expect(slots.uids).toBe([...held.values()].filter((n) => n > 0).length);
        }
      }),
    );
  });
});
