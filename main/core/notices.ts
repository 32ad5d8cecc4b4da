import type { BackendState, Notice, NoticeFix } from '../../common/api/backend-api';

/**
 * The backend's notices, derived from what is true now: each one names its
 * situation with a key (so it is shown once, however often it is raised), and
 * may carry a condition that is checked against every new state; a notice
 * whose condition no longer holds is dropped then, never shown again until
 * something raises it anew. Two notices never say the same sentence: the
 * newer one replaces the older.
 */

/** What a condition may look at: the state the app shows, without the notices themselves. */
export type NoticeContext = Omit<BackendState, 'notices'>;

export interface NoticeSpec {
  key: string;
  level: Notice['level'];
  /** One sentence; whitespace (a stray newline) is folded to single spaces. */
  text: string;
  /** At most one line of detail; longer text is cut (the rest belongs in the log). */
  detail?: string | null;
  fix?: NoticeFix | null;
  /** True while the notice is still true; without one, it stays until dismissed, replaced or cleared. */
  holds?: (state: NoticeContext) => boolean;
}

interface Entry {
  notice: Notice;
  holds: ((state: NoticeContext) => boolean) | undefined;
}

/** More than this many different situations at once is a flood: the oldest go first. */
export const MAX_NOTICES = 8;
/** A detail line longer than this is cut with an ellipsis. */
export const MAX_DETAIL = 160;

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

function detailLine(detail: string | null | undefined): string | null {
  if (detail === null || detail === undefined) return null;
  const first = detail.split('\n').map(oneLine).find((line) => line.length > 0);
  if (first === undefined) return null;
  return first.length > MAX_DETAIL ? `${first.slice(0, MAX_DETAIL - 1)}…` : first;
}

export class NoticeSet {
  /** In the order raised (a raise moves a key to the end): the newest is last. */
  private readonly entries = new Map<string, Entry>();

  /** `onRaise` hears every raised notice (the backend logs them). */
  constructor(private readonly onRaise: (notice: Notice) => void = () => undefined) {}

  /** Shows `spec`, replacing any notice with the same key. */
  raise(spec: NoticeSpec): void {
    const notice: Notice = {
      key: spec.key,
      level: spec.level,
      text: oneLine(spec.text),
      detail: detailLine(spec.detail),
      fix: spec.fix ?? null,
    };
    this.entries.delete(spec.key);
    // Two situations told in the same words would read as one notice shown twice: the newer one stays.
    for (const [key, entry] of [...this.entries]) {
      if (entry.notice.text === notice.text) this.entries.delete(key);
    }
    this.entries.set(spec.key, { notice, holds: spec.holds });
    for (const key of this.entries.keys()) {
      if (this.entries.size <= MAX_NOTICES) break;
      this.entries.delete(key);
    }
    this.onRaise(notice);
  }

  /** Forgets the notices whose key is `key` or starts with `key` + '.'; true when one went. */
  clear(key: string): boolean {
    let cleared = false;
    for (const existing of [...this.entries.keys()]) {
      if (existing === key || existing.startsWith(`${key}.`)) cleared = this.entries.delete(existing) || cleared;
    }
    return cleared;
  }

  /** A new report about `keys` (see clear) replaces the last one: those notices go, `notices` are raised. */
  replace(keys: readonly string[], notices: ReadonlyArray<NoticeSpec | undefined>): void {
    for (const key of keys) this.clear(key);
    for (const notice of notices) if (notice !== undefined) this.raise(notice);
  }

  /** The user's "dismiss": that notice alone. */
  dismiss(key: string): boolean {
    return this.entries.delete(key);
  }

  /** The notices still true in `state`; the others are dropped for good. */
  current(state: NoticeContext): Notice[] {
    const shown: Notice[] = [];
    for (const [key, entry] of [...this.entries]) {
      if (entry.holds !== undefined && !entry.holds(state)) this.entries.delete(key);
      else shown.push(entry.notice);
    }
    return shown;
  }
}
