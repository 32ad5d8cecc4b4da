import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { AuditEntry, AuditLog } from './audit';
import { throttleAuditLog } from './audit-throttle';

/** An audit log that keeps what reaches it, in order (the throttle's only dependency). */
function memoryLog(): AuditLog & { lines: AuditEntry[]; closed: boolean } {
  const lines: AuditEntry[] = [];
  const log = {
    lines,
    closed: false,
    write: (entry: AuditEntry) => lines.push(entry),
    close: () => {
      log.closed = true;
    },
  };
  return log;
}

const peer = (uid: number) => ({ uid, gid: uid, pid: 4242 });
const WINDOW = 60_000;

beforeEach(() => {
  vi.useFakeTimers({ now: new Date('2026-12-03T10:00:00Z') });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('the audit rate limit', () => {
  it('folds identical successes into one line and a count, written when the window ends', () => {
    const log = memoryLog();
    const audit = throttleAuditLog(log, { windowMs: WINDOW, refusalsPerWindow: 4 });
    const bind = { peer: peer(1000), op: 'bindPort', args: { address: '127.0.0.1', port: 80, protocol: 'tcp' }, result: 'ok' };
    for (let i = 0; i < 1000; i++) audit.write(bind);
    // Another user, other args: not the same record.
    audit.write({ ...bind, peer: peer(0) });
    audit.write({ ...bind, args: { ...bind.args, port: 81 } });
    expect(log.lines).toEqual([bind, { ...bind, peer: peer(0) }, { ...bind, args: { ...bind.args, port: 81 } }]);
    vi.advanceTimersByTime(WINDOW);
    expect(log.lines.slice(3)).toEqual([
      { ...bind, repeated: 999, since: '2026-12-03T10:00:00.000Z', message: 'repeated 999 more times' },
    ]);
    // After the window, the next one is a record of its own again.
    audit.write(bind);
    expect(log.lines.at(-1)).toEqual(bind);
    audit.close();
    expect(log.closed).toBe(true);
  });

  it('gives each peer a refusal budget across its connections, and counts the rest by op and code', () => {
    const log = memoryLog();
    const audit = throttleAuditLog(log, { windowMs: WINDOW, refusalsPerWindow: 3 });
    const refused = (uid: number, op: string, result: string): AuditEntry => ({ peer: peer(uid), op, result, message: 'no' });
    for (let i = 0; i < 10; i++) audit.write(refused(1000, 'bindPort', 'ADDRESS_UNAVAILABLE'));
    for (let i = 0; i < 5; i++) audit.write(refused(1000, 'invalid', 'BAD_REQUEST'));
    // Someone else at the door has a budget of their own.
    for (let i = 0; i < 5; i++) audit.write(refused(1001, 'connect', 'UNAUTHORIZED'));
    expect(log.lines.map((l) => [l.peer.uid, l.op])).toEqual([
      [1000, 'bindPort'],
      [1000, 'bindPort'],
      [1000, 'bindPort'],
      [1001, 'connect'],
      [1001, 'connect'],
      [1001, 'connect'],
    ]);
    audit.close();
    expect(log.lines.slice(6)).toEqual([
      expect.objectContaining({ peer: peer(1000), op: 'bindPort', result: 'ADDRESS_UNAVAILABLE', repeated: 7 }),
      expect.objectContaining({ peer: peer(1000), op: 'invalid', result: 'BAD_REQUEST', repeated: 5 }),
      expect.objectContaining({ peer: peer(1001), op: 'connect', result: 'UNAUTHORIZED', repeated: 2 }),
    ]);
    expect(log.lines[6]!.message).toBe('7 more refusals like this from uid 1000 were not logged one by one (at most 3 are, per 60 s)');
    // Closed: nothing more is written.
    audit.write(refused(1000, 'bindPort', 'X'));
    expect(log.lines).toHaveLength(9);
  });

  it('loses no request: for any sequence, the counts on the lines written add up to what was asked', () => {
    const op = fc.record({
      uid: fc.constantFrom(0, 1000, 1001),
      op: fc.constantFrom('bindPort', 'ensureHosts'),
      port: fc.integer({ min: 1, max: 3 }),
      ok: fc.boolean(),
      waitMs: fc.constantFrom(0, 0, 0, 10, 30_000, 61_000),
    });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 300 }), fc.integer({ min: 1, max: 5 }), (ops, budget) => {
        const log = memoryLog();
        const audit = throttleAuditLog(log, { windowMs: WINDOW, refusalsPerWindow: budget });
        const asked = new Map<string, number>();
        const key = (e: { peer: { uid: number }; op: string; args?: unknown; result: string }) =>
          JSON.stringify([e.peer.uid, e.op, e.result, e.result === 'ok' ? e.args : null]);
        for (const o of ops) {
          vi.advanceTimersByTime(o.waitMs);
          const entry: AuditEntry = { peer: peer(o.uid), op: o.op, args: { port: o.port }, result: o.ok ? 'ok' : 'REFUSED', message: 'm' };
          asked.set(key(entry), (asked.get(key(entry)) ?? 0) + 1);
          audit.write(entry);
        }
        audit.close();
        const logged = new Map<string, number>();
        for (const line of log.lines) logged.set(key(line), (logged.get(key(line)) ?? 0) + (line.repeated ?? 1));
        expect(logged).toEqual(asked);
        // And a peer never gets more refusal lines of its own than its budget per window, plus a count per kind.
        const refusalLines = log.lines.filter((l) => l.result !== 'ok' && l.repeated === undefined).length;
        const windows = 1 + Math.ceil(ops.reduce((t, o) => t + o.waitMs, 0) / WINDOW);
        expect(refusalLines).toBeLessThanOrEqual(3 * budget * windows);
      }),
      { numRuns: 200 },
    );
  });

  it('keeps bounded memory: a flood of distinct successes is written, not held', () => {
    const log = memoryLog();
    const audit = throttleAuditLog(log, { windowMs: WINDOW, refusalsPerWindow: 1 });
    for (let port = 0; port < 5000; port++) {
      audit.write({ peer: peer(1000), op: 'bindPort', args: { port }, result: 'ok' });
      audit.write({ peer: peer(1000), op: 'bindPort', args: { port }, result: 'ok' });
    }
    // Every distinct one at once; each repeat counted, early when its entry had to make room.
    expect(log.lines.filter((l) => l.repeated === undefined)).toHaveLength(5000);
    expect(log.lines.filter((l) => l.repeated === 1).length).toBeGreaterThanOrEqual(5000 - 1024);
    audit.close();
    expect(log.lines.filter((l) => l.repeated === 1)).toHaveLength(5000);
  });
});
