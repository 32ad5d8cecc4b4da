import { closeSync, constants, fstatSync, lstatSync, openSync, renameSync } from 'node:fs';
import { dirname } from 'node:path';
import { ApiError, settingChange, type SettingChange } from '../../../common/api/backend-api';
import { parseJson } from '../../../common/protocol/messages';
import { readWhole } from '../../../common/read-fd';
import { DEFAULT_SETTINGS, settingsShape, type LockedSettings, type SettingKey, type Settings } from '../../../common/settings/schema';
import { ensurePrivateDirectory, sweepStaleTemps, writeFileAtomic } from '../fs/user-file';
import { SETTING_KEYS, describeValues, isSettingKey } from './keys';

/**
 * The user's settings file (settings.json in the user's config dir) and the
 * organization's locks over it.
 *
 * File format, decided deliberately:
 * - Only the keys whose value differs from DEFAULT_SETTINGS are written. The
 *   file then reads as "what you changed"; setting a key back to its default
 *   removes it; and a better default in a later Berth reaches everyone who
 *   never chose otherwise.
 * - Keys this Berth does not know are kept in the file exactly as they are
 *   (a newer Berth's settings survive a downgrade and come back on the
 *   upgrade) but are never read, and `set` refuses them.
 * - A file that is not JSON, not an object, or holds a known key with a
 *   value its schema refuses is corrupt: it is moved aside to
 *   `settings.json.corrupt-<ISO time>` (nothing lost), the defaults are used,
 *   and `open` returns a notice saying where the backup is. Guessing at a
 *   half-valid file could silently flip a setting the user relied on.
 * - A locked key (from the organization policy) always reads as the locked
 *   value, whatever the file says; the file's own value is left alone, so
 *   the user's choice comes back if the lock is lifted.
 */

/** Largest settings file read: a real one is a few hundred bytes; anything bigger is not ours. */
export const MAX_SETTINGS_BYTES = 64 * 1024;

export interface SettingsStoreOptions {
  /** The settings file (common/user-paths.ts settingsPath). */
  path: string;
  /** The locks in force now; asked on every read, so a new policy applies at once. */
  locked: () => LockedSettings;
  /** Who locked them, e.g. "Example Corp policy v3" (app-policy.ts policySource); for messages. */
  lockedBy?: () => string | null;
  /** The clock that names a corrupt file's backup; injectable for tests. */
  now?: () => Date;
}

export type SettingsListener = (settings: Settings, changed: SettingKey[]) => void;

type Stored = Partial<Settings>;

/** Why the file was refused; the text goes into the notice. */
class CorruptSettings extends Error {}

export class SettingsStore {
  private readonly listeners = new Set<SettingsListener>();
  private lastEffective: Settings;

  private constructor(
    private readonly options: SettingsStoreOptions,
    /** Known keys from the file, each valid for its schema. */
    private stored: Stored,
    /** Keys this Berth does not know, kept verbatim for the one that does. */
    private readonly unknown: ReadonlyArray<[string, unknown]>,
  ) {
    this.lastEffective = this.get();
  }

  /**
   * Reads the file. Missing: defaults. Corrupt: moved aside, defaults, and a
   * notice for the user. Never throws for the file's content; throws only if
   * a corrupt file cannot even be moved aside (then nothing was changed).
   */
  static open(options: SettingsStoreOptions): { store: SettingsStore; notice?: string } {
    // What an interrupted save left (a crash between write and rename): never the file itself.
    sweepStaleTemps(options.path);
    let bytes: Buffer | null;
    try {
      bytes = readSettingsFile(options.path);
      if (bytes === null) return { store: new SettingsStore(options, {}, []) };
      const { stored, unknown } = parseSettings(bytes);
      return { store: new SettingsStore(options, stored, unknown) };
    } catch (error) {
      if (!(error instanceof CorruptSettings)) {
        throw new Error(`cannot read your settings file ${options.path}: ${describeError(error)}`);
      }
      let backup: string;
      try {
        backup = moveAside(options.path, (options.now ?? (() => new Date()))());
      } catch (moveError) {
        throw new Error(`your settings file ${options.path} ${error.message} and could not be moved aside (${describeError(moveError)}); nothing was changed`);
      }
      return {
        store: new SettingsStore(options, {}, []),
        notice: `Your settings file ${options.path} ${error.message}, so Berth is using the default settings; the old file is kept as ${backup}.`,
      };
    }
  }

  /** The settings in effect: the file's values over the defaults, then the organization's locks over both. */
  get(): Settings {
    return { ...DEFAULT_SETTINGS, ...this.stored, ...this.options.locked() };
  }

  locked(): LockedSettings {
    return { ...this.options.locked() };
  }

  /**
   * Changes one setting and saves the file atomically before anything else
   * sees the change. INVALID for an unknown key or a bad value, LOCKED for
   * a key the organization locked to another value (setting it to the value
   * it is locked to is a no-op, so scripts can be idempotent), FAILED if the
   * file cannot be written; on every error nothing changed.
   */
  set(change: SettingChange): Settings {
    const parsed = settingChange.safeParse(change);
    if (!parsed.success) throw new ApiError('INVALID', invalidChangeMessage(change));
    const { key, value } = parsed.data as { key: SettingKey; value: Settings[SettingKey] };
    const locks = this.options.locked();
    if (Object.prototype.hasOwnProperty.call(locks, key)) {
      const lockedValue = locks[key as keyof LockedSettings];
      if (lockedValue === value) return this.get();
      const by = this.options.lockedBy?.();
      throw new ApiError('LOCKED', `${key} is locked to ${JSON.stringify(lockedValue)} by your organization${by ? ` (${by})` : ''}`);
    }
    // A value equal to the default is not written: the file keeps only what the user changed.
    const next = Object.fromEntries(
      [...Object.entries(this.stored).filter(([k]) => k !== key), ...(value === DEFAULT_SETTINGS[key] ? [] : [[key, value]])],
    ) as Stored;
    if (!sameStored(next, this.stored)) {
      try {
        this.write(next);
      } catch (error) {
        throw new ApiError('FAILED', `could not save your settings to ${this.options.path}: ${describeError(error)}; nothing was changed`);
      }
      this.stored = next;
    }
    this.emitIfChanged();
    return this.get();
  }

  /** Listens to every change of the settings in effect; returns the unsubscribe. */
  onChange(listener: SettingsListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Tells listeners about settings whose effective value changed because
   * the locks changed (a new policy arrived); returns those keys. The store
   * cannot see a policy arrive by itself: the backend calls this after it
   * stores or re-reads one.
   */
  reevaluateLocks(): SettingKey[] {
    return this.emitIfChanged();
  }

  private emitIfChanged(): SettingKey[] {
    const now = this.get();
    const changed = SETTING_KEYS.filter((key) => now[key] !== this.lastEffective[key]);
    this.lastEffective = now;
    if (changed.length > 0) for (const listener of [...this.listeners]) listener(now, changed);
    return changed;
  }

  private write(stored: Stored): void {
    // Known keys in the schema's order, then the unknown ones as they were: a stable, readable file.
    const content: Record<string, unknown> = {};
    for (const key of SETTING_KEYS) {
      if (Object.prototype.hasOwnProperty.call(stored, key) && stored[key] !== DEFAULT_SETTINGS[key]) content[key] = stored[key];
    }
    for (const [key, value] of this.unknown) content[key] = value;
    ensurePrivateDirectory(dirname(this.options.path));
    writeFileAtomic(this.options.path, `${JSON.stringify(content, null, 2)}\n`, 0o600);
  }
}

/**
 * The file's bytes, or null when there is none. O_NOFOLLOW and O_NONBLOCK:
 * a link or a FIFO at the name is not a settings file (and must not hang
 * the app); anything but a regular file of sane size counts as corrupt.
 */
function readSettingsFile(path: string): Buffer | null {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'ENOENT') return null;
    if (code === 'ELOOP') throw new CorruptSettings('is a symbolic link, not a file');
    throw error;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new CorruptSettings('is not a regular file');
    if (st.size > MAX_SETTINGS_BYTES) throw new CorruptSettings(`is larger than ${MAX_SETTINGS_BYTES} bytes`);
    return readWhole(fd, st.size);
  } finally {
    closeSync(fd);
  }
}

function parseSettings(bytes: Buffer): { stored: Stored; unknown: Array<[string, unknown]> } {
  let value: unknown;
  try {
    // parseJson: strict UTF-8, bounded nesting, and no __proto__/constructor keys to carry into our objects.
    value = parseJson(bytes);
  } catch (error) {
    const message = (error as Error).message;
    throw new CorruptSettings(/not valid (JSON|UTF-8)/.test(message) ? 'is not valid JSON' : `is refused (${message.replace(/^frame /, '')})`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new CorruptSettings('is not a JSON object');
  const stored: Record<string, unknown> = {};
  const unknown: Array<[string, unknown]> = [];
  for (const [key, item] of Object.entries(value)) {
    if (!isSettingKey(key)) {
      unknown.push([key, item]);
      continue;
    }
    const parsed = settingsShape[key].safeParse(item);
    if (!parsed.success) throw new CorruptSettings(`has an invalid ${key} (it must be ${describeValues(key)})`);
    stored[key] = parsed.data;
  }
  return { stored: stored as Stored, unknown };
}

/**
 * Renames the corrupt file to `<name>.corrupt-<ISO time>` beside it, never
 * over an existing backup (two corruptions in one millisecond get -2, -3…).
 * The directory is the user's own 0700 one, so the check-then-rename has no
 * one to race with.
 */
function moveAside(path: string, now: Date): string {
  const stamp = now.toISOString();
  for (let attempt = 1; ; attempt++) {
    const backup = `${path}.corrupt-${stamp}${attempt === 1 ? '' : `-${attempt}`}`;
    try {
      lstatSync(backup);
      continue;
    } catch (error) {
      if ((error as { code?: string }).code !== 'ENOENT') throw error;
    }
    renameSync(path, backup);
    return backup;
  }
}

function sameStored(a: Stored, b: Stored): boolean {
  return SETTING_KEYS.every((key) => Object.prototype.hasOwnProperty.call(a, key) === Object.prototype.hasOwnProperty.call(b, key) && a[key] === b[key]);
}

/** One sentence for a change the schema refused: the unknown key with the valid ones, or the value with what the key takes. */
export function invalidChangeMessage(change: unknown): string {
  const key = (change as { key?: unknown } | null)?.key;
  if (typeof key !== 'string' || !isSettingKey(key)) {
    const shown = typeof key === 'string' ? `"${key.slice(0, 60)}"` : 'no key';
    return `unknown setting ${shown}; the settings are: ${SETTING_KEYS.join(', ')}`;
  }
  const value = (change as { value?: unknown }).value;
  const json = value === undefined ? 'no value' : (JSON.stringify(value) ?? String(value));
  // Bounded: the message is one readable sentence whatever was sent.
  const shown = json.length > 60 ? `${json.slice(0, 59)}…` : json;
  return `${key} cannot be ${shown}; it must be ${describeValues(key)}`;
}

function describeError(error: unknown): string {
  const code = (error as { code?: string }).code;
  const message = (error as Error).message;
  return code !== undefined && !message.includes(code) ? `${code}: ${message}` : message;
}
