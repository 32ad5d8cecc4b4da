import type { PeerCredentials } from '../../native';
import type { AuditEntry, AuditLog } from './audit';

export interface AuditThrottleLimits {
  /** How long identical successes are folded together, and the span a peer's refusal budget covers. */
  windowMs: number;
  /** Refusals logged one by one per peer uid per window, across all its connections. */
  refusalsPerWindow: number;
}

/** Keys (success runs and peers) tracked at once; the oldest is flushed early to make room. Bounds the helper's memory. */
const MAX_TRACKED = 1024;

/** A success already logged, and how many identical ones came after it. */
interface Run {
  kind: 'run';
  deadline: number;
  entry: AuditEntry;
  since: string;
  count: number;
}

/** One peer's refusals in this window: how many were logged, and the rest counted by op and code. */
interface Budget {
  kind: 'budget';
  deadline: number;
  uid: number;
  logged: number;
  since: string;
  suppressed: Map<string, { peer: PeerCredentials; op: string; result: string; count: number }>;
}

/**
 * Keeps the enrolled users (or anyone refused at the door) from filling the log
 * with lines, while keeping every fact:
 * - an identical success (same peer uid, op and args) within the window of
 *   the first is not written again but counted, and one line "repeated N
 *   more times" is written when the window ends;
 * - each peer uid gets `refusalsPerWindow` refusal lines per window across
 *   all its connections (a reconnect loop gets no fresh allowance); the rest
 *   are counted by op and code and written as one line each when the window ends.
 * Pending counts are written by close() too, so a stop loses nothing.
 * Rotation (audit.ts) bounds the bytes; this bounds how fast they come.
 */
export function throttleAuditLog(log: AuditLog, limits: AuditThrottleLimits, now: () => number = Date.now): AuditLog {
  // Insertion order is deadline order: every window has the same length.
  const tracked = new Map<string, Run | Budget>();
  let timer: NodeJS.Timeout | undefined;
  let open = true;

  const flush = (item: Run | Budget): void => {
    if (item.kind === 'run') {
      if (item.count > 0) {
        log.write({ ...item.entry, repeated: item.count, since: item.since, message: `repeated ${item.count} more ${item.count === 1 ? 'time' : 'times'}` });
      }
      return;
    }
    for (const s of item.suppressed.values()) {
      log.write({
        peer: s.peer,
        op: s.op,
        result: s.result,
        repeated: s.count,
        since: item.since,
        message: `${s.count} more refusals like this from uid ${item.uid} were not logged one by one (at most ${limits.refusalsPerWindow} are, per ${Math.round(limits.windowMs / 1000)} s)`,
      });
    }
  };

  const sweep = (): void => {
    timer = undefined;
    const at = now();
    for (const [key, item] of tracked) {
      if (item.deadline > at) break;
      tracked.delete(key);
      flush(item);
    }
    schedule();
  };

  const schedule = (): void => {
    if (timer !== undefined || !open) return;
    const first = tracked.values().next();
    if (first.done) return;
    // unref: pending counts must not keep a stopping helper alive (close() flushes them).
    timer = setTimeout(sweep, Math.max(0, first.value.deadline - now())).unref();
  };

  const track = (key: string, item: Run | Budget): void => {
    if (tracked.size >= MAX_TRACKED) {
      const [oldestKey, oldest] = tracked.entries().next().value!;
      tracked.delete(oldestKey);
      flush(oldest);
    }
    tracked.set(key, item);
    schedule();
  };

  /** Whether a success is new (write it) or a repeat (counted). */
  const success = (entry: AuditEntry): boolean => {
    const key = `run\0${entry.peer.uid}\0${entry.op}\0${JSON.stringify(entry.args ?? null)}`;
    const run = tracked.get(key);
    if (run?.kind === 'run' && run.deadline > now()) {
      run.count++;
      return false;
    }
    if (run !== undefined) {
      tracked.delete(key);
      flush(run);
    }
    track(key, { kind: 'run', deadline: now() + limits.windowMs, entry, since: new Date(now()).toISOString(), count: 0 });
    return true;
  };

  /** Whether a refusal is within its peer's budget (write it) or beyond (counted). */
  const refusal = (entry: AuditEntry): boolean => {
    const key = `peer\0${entry.peer.uid}`;
    let budget = tracked.get(key);
    if (budget?.kind === 'budget' && budget.deadline <= now()) {
      tracked.delete(key);
      flush(budget);
      budget = undefined;
    }
    if (budget?.kind !== 'budget') {
      budget = { kind: 'budget', deadline: now() + limits.windowMs, uid: entry.peer.uid, logged: 0, since: new Date(now()).toISOString(), suppressed: new Map() };
      track(key, budget);
    }
    if (budget.logged < limits.refusalsPerWindow) {
      budget.logged++;
      return true;
    }
    const kind = `${entry.op}\0${entry.result}`;
    const counted = budget.suppressed.get(kind);
    if (counted !== undefined) counted.count++;
    else budget.suppressed.set(kind, { peer: entry.peer, op: entry.op, result: entry.result, count: 1 });
    return false;
  };

  return {
    write(entry) {
      if (!open) return;
      if (entry.result === 'ok' ? success(entry) : refusal(entry)) log.write(entry);
    },
    close() {
      if (!open) return;
      open = false;
      clearTimeout(timer);
      for (const item of tracked.values()) flush(item);
      tracked.clear();
      log.close();
    },
  };
}
