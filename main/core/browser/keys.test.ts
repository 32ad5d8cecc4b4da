import { describe, expect, it } from 'vitest';
import { BrowserKeys, LAUNCH_CODE_TTL_MS } from './keys';

/** Browser mode's launch codes and sessions (T25), on a clock the test moves. */
describe('BrowserKeys', () => {
  const at = (start = 0) => {
    const clock = { now: start };
    return { clock, keys: new BrowserKeys(() => clock.now) };
  };

  it('a code buys one session, once, within its minute', () => {
    const { clock, keys } = at();
    const code = keys.newLaunchCode();
    expect(code).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(keys.isSession(code)).toBe(false);
    clock.now += LAUNCH_CODE_TTL_MS - 1;
    const session = keys.exchange(code);
    expect(session).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(keys.isSession(session)).toBe(true);
    expect(keys.exchange(code)).toBeUndefined();
    const late = keys.newLaunchCode();
    clock.now += LAUNCH_CODE_TTL_MS;
    expect(keys.exchange(late)).toBeUndefined();
    // A late try still uses the code up: it cannot come back if the clock is set back.
    clock.now -= LAUNCH_CODE_TTL_MS;
    expect(keys.exchange(late)).toBeUndefined();
  });

  it('a session is not a code, and nothing unknown, empty or oversized is either', () => {
    const { keys } = at();
    const session = keys.exchange(keys.newLaunchCode())!;
    expect(keys.exchange(session)).toBeUndefined();
    for (const bad of ['', 'x'.repeat(257), `${session}x`]) {
      expect(keys.isSession(bad)).toBe(false);
      expect(keys.exchange(bad)).toBeUndefined();
    }
    expect(keys.isSession(undefined)).toBe(false);
  });

  it('at most 16 unused codes: a 17th ends the oldest', () => {
    const { keys } = at();
    const codes = Array.from({ length: 17 }, () => keys.newLaunchCode());
    expect(keys.exchange(codes[0]!)).toBeUndefined();
    for (const code of codes.slice(1)) expect(keys.exchange(code)).toBeDefined();
  });

  it('at most 64 sessions: a 65th ends the oldest', () => {
    const { keys } = at();
    const sessions = Array.from({ length: 65 }, () => keys.exchange(keys.newLaunchCode())!);
    expect(keys.isSession(sessions[0])).toBe(false);
    expect(sessions.slice(1).every((s) => keys.isSession(s))).toBe(true);
  });
});
