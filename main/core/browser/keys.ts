import { createHash, randomBytes } from 'node:crypto';

/**
 * Browser mode's keys (T25). A launch code goes in a link: anyone on the
 * machine may read it from an opener's command line, so it works once, for a
 * minute, and buys only a session key. The session key never leaves the
 * server's answer to that one exchange and the tab that asked for it.
 */

/** A launch code is good for this long after it was made: enough to open a browser, short for a thief. */
export const LAUNCH_CODE_TTL_MS = 60_000;
/** Codes nobody used yet; making more drops the oldest (a loop of `berth app --open` cannot grow memory). */
const MAX_LAUNCH_CODES = 16;
/** Tabs with a session; a new one beyond this ends the oldest (that tab is asked for a new link). */
const MAX_SESSIONS = 64;
/** Longer than anything we make: not worth hashing. */
const MAX_KEY_LENGTH = 256;

/**
 * Keys are kept as their SHA-256 only: a lookup by digest takes the same time
 * however close a guess is (no timing oracle), and nothing in memory is a key.
 */
function digest(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

/** 256 bits, URL-safe. */
function newSecret(): string {
  return randomBytes(32).toString('base64url');
}

export class BrowserKeys {
  /** digest(code) -> when it stops working; a Map keeps insertion order, oldest first. */
  private readonly launchCodes = new Map<string, number>();
  /** digest(session key), oldest first. */
  private readonly sessions = new Set<string>();

  constructor(private readonly now: () => number = Date.now) {}

  /** A new launch code, good once within LAUNCH_CODE_TTL_MS. */
  newLaunchCode(): string {
    const code = newSecret();
    this.launchCodes.set(digest(code), this.now() + LAUNCH_CODE_TTL_MS);
    if (this.launchCodes.size > MAX_LAUNCH_CODES) this.launchCodes.delete(this.launchCodes.keys().next().value!);
    return code;
  }

  /** A session key for a live code, which dies here whatever happens next; undefined for a used, old or unknown one. */
  exchange(code: string): string | undefined {
    if (code.length > MAX_KEY_LENGTH) return undefined;
    const key = digest(code);
    const expires = this.launchCodes.get(key);
    this.launchCodes.delete(key);
    if (expires === undefined || this.now() >= expires) return undefined;
    const session = newSecret();
    this.sessions.add(digest(session));
    if (this.sessions.size > MAX_SESSIONS) this.sessions.delete(this.sessions.values().next().value!);
    return session;
  }

  isSession(key: string | undefined): boolean {
    return key !== undefined && key.length <= MAX_KEY_LENGTH && this.sessions.has(digest(key));
  }
}
