import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { ApiError, type SettingChange } from '../../../common/api/backend-api';
import { DEFAULT_SETTINGS, type LockedSettings, type SettingKey, type Settings } from '../../../common/settings/schema';
import { assertPrivateMountNamespace } from '../../../test/support/namespace';
import { MAX_SETTINGS_BYTES, SettingsStore } from './store';

const users = inject('users');

let dir: string;
let path: string;
let locks: LockedSettings;
const undo: Array<() => void> = [];

beforeEach(() => {
  dir = join(mkdtempSync(join(tmpdir(), 'berth-settings-')), 'config', 'berth');
  path = join(dir, 'settings.json');
  locks = {};
});
afterEach(() => {
  for (const fn of undo.splice(0).reverse()) fn();
});

const FIXED_NOW = new Date('2026-03-04T05:06:07.890Z');

function open(options: { lockedBy?: string | null } = {}) {
  return SettingsStore.open({ path, locked: () => locks, lockedBy: () => options.lockedBy ?? null, now: () => FIXED_NOW });
}

function writeRaw(content: string | Buffer): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeFileSync(path, content, { mode: 0o600 });
}

function fileJson(): Record<string, unknown> {
  return JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
}

/** Everything a refused change must leave alone. */
function snapshot(): { bytes: string; ino: number; mtimeMs: number; entries: string[] } {
  const st = lstatSync(path);
  return { bytes: readFileSync(path).toString('base64'), ino: st.ino, mtimeMs: st.mtimeMs, entries: readdirSync(dir).sort() };
}

/** The ApiError a call throws (fails the test if it does not throw one). */
function apiError(fn: () => unknown): ApiError {
  try {
    fn();
  } catch (error) {
    if (error instanceof ApiError) return error;
    throw error;
  }
  throw new Error('expected an ApiError');
}

const backupPath = (): string => `${path}.corrupt-${FIXED_NOW.toISOString()}`;

describe('SettingsStore: reading and writing', () => {
  it('uses the defaults when there is no file, and creates nothing just by reading', () => {
    const { store, notice } = open();
    expect(notice).toBeUndefined();
    expect(store.get()).toEqual(DEFAULT_SETTINGS);
    expect(store.locked()).toEqual({});
    expect(existsSync(dir)).toBe(false);
  });

  it('writes only the keys that differ from the defaults, 0600 in a 0700 directory, atomically', () => {
    const { store } = open();
    expect(store.set({ key: 'startAtLogin', value: true })).toEqual({ ...DEFAULT_SETTINGS, startAtLogin: true });
    expect(store.set({ key: 'cliToolsLocation', value: 'user' })).toMatchObject({ cliToolsLocation: 'user' });
    expect(fileJson()).toEqual({ cliToolsLocation: 'user', startAtLogin: true });
    // Schema order, pretty-printed, a trailing newline.
    expect(readFileSync(path, 'utf8')).toBe('{\n  "cliToolsLocation": "user",\n  "startAtLogin": true\n}\n');
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(readdirSync(dir)).toEqual(['settings.json']);
    // Back to the default: the key leaves the file.
    store.set({ key: 'startAtLogin', value: false });
    expect(fileJson()).toEqual({ cliToolsLocation: 'user' });
    // A fresh store reads the same.
    expect(open().store.get()).toEqual({ ...DEFAULT_SETTINGS, cliToolsLocation: 'user' });
  });

  it('stores every key of the schema, including the nullable text one', () => {
    const { store } = open();
    store.set({ key: 'helperUpdateAskedFor', value: '0.2.0' });
    store.set({ key: 'consent', value: 'limited' });
    store.set({ key: 'privilegedPortMapping', value: false });
    store.set({ key: 'hostsEntries', value: false });
    expect(open().store.get()).toEqual({
      ...DEFAULT_SETTINGS,
      helperUpdateAskedFor: '0.2.0',
      consent: 'limited',
      privilegedPortMapping: false,
      hostsEntries: false,
    });
    store.set({ key: 'helperUpdateAskedFor', value: null });
    expect(fileJson()).not.toHaveProperty('helperUpdateAskedFor');
  });

  it('a change to the same value writes nothing and tells no listener', () => {
    const { store } = open();
    store.set({ key: 'startAtLogin', value: true });
    const before = snapshot();
    const seen: SettingKey[][] = [];
    store.onChange((_s, keys) => seen.push(keys));
    store.set({ key: 'startAtLogin', value: true });
    expect(snapshot()).toEqual(before);
    expect(seen).toEqual([]);
  });

  it('tells listeners the settings in effect and which keys changed; unsubscribing stops that', () => {
    const { store } = open();
    const seen: Array<[Settings, SettingKey[]]> = [];
    const stop = store.onChange((settings, keys) => seen.push([settings, keys]));
    store.set({ key: 'hostsEntries', value: false });
    expect(seen).toEqual([[{ ...DEFAULT_SETTINGS, hostsEntries: false }, ['hostsEntries']]]);
    stop();
    store.set({ key: 'hostsEntries', value: true });
    expect(seen).toHaveLength(1);
  });
});

describe('SettingsStore: unknown keys (kept for a newer Berth, never read, refused from set)', () => {
  it('keeps unknown keys in the file exactly as they were through later writes', () => {
    writeRaw(JSON.stringify({ startAtLogin: true, futureFeature: { nested: [1, 'two'] }, zeta: null }));
    const { store, notice } = open();
    expect(notice).toBeUndefined();
    expect(store.get()).toEqual({ ...DEFAULT_SETTINGS, startAtLogin: true });
    expect(store.get()).not.toHaveProperty('futureFeature');
    store.set({ key: 'hostsEntries', value: false });
    expect(fileJson()).toEqual({ hostsEntries: false, startAtLogin: true, futureFeature: { nested: [1, 'two'] }, zeta: null });
  });

  it('refuses to set an unknown key, naming the valid ones; nothing changes', () => {
    writeRaw(JSON.stringify({ futureFeature: 1 }));
    const { store } = open();
    const before = snapshot();
    const error = apiError(() => store.set({ key: 'futureFeature', value: 2 } as unknown as SettingChange));
    expect(error.code).toBe('INVALID');
    expect(error.message).toBe(
      'unknown setting "futureFeature"; the settings are: privilegedPortMapping, cliToolsLocation, hostsEntries, startAtLogin, consent, helperUpdateAskedFor',
    );
    expect(snapshot()).toEqual(before);
  });

  it.each<[string, unknown, RegExp]>([
    ['a string for a boolean', { key: 'hostsEntries', value: 'yes' }, /^hostsEntries cannot be "yes"; it must be true or false/],
    ['a word outside the enum', { key: 'cliToolsLocation', value: 'homebrew' }, /^cliToolsLocation cannot be "homebrew"; it must be system or user$/],
    ['no value', { key: 'startAtLogin' }, /^startAtLogin cannot be no value; it must be true or false/],
    ['an overlong version', { key: 'helperUpdateAskedFor', value: 'x'.repeat(65) }, /it must be text of up to 64 characters, or null$/],
    ['an extra field', { key: 'startAtLogin', value: true, also: 1 }, /^startAtLogin cannot be true/],
    ['not an object', null, /^unknown setting no key/],
  ])('refuses %s with INVALID and a clear message; nothing changes', (_what, change, message) => {
    writeRaw(JSON.stringify({ startAtLogin: true }));
    const { store } = open();
    const before = snapshot();
    const error = apiError(() => store.set(change as SettingChange));
    expect(error.code).toBe('INVALID');
    expect(error.message).toMatch(message);
    expect(snapshot()).toEqual(before);
    expect(store.get()).toEqual({ ...DEFAULT_SETTINGS, startAtLogin: true });
  });
});

describe('SettingsStore: a corrupt file is moved aside, the defaults used, the user told', () => {
  it.each<[string, () => void, RegExp]>([
    ['not JSON', () => writeRaw('{"startAtLogin": tru'), /is not valid JSON/],
    ['empty', () => writeRaw(''), /is not valid JSON/],
    ['not UTF-8', () => writeRaw(Buffer.from([0x7b, 0xff, 0xfe, 0x7d])), /is not valid JSON/],
    ['a JSON array', () => writeRaw('[true]'), /is not a JSON object/],
    ['a JSON string', () => writeRaw('"settings"'), /is not a JSON object/],
    ['a wrong type', () => writeRaw('{"hostsEntries": "yes", "startAtLogin": true}'), /has an invalid hostsEntries \(it must be true or false/],
    ['a value outside the enum', () => writeRaw('{"consent": "maybe"}'), /has an invalid consent \(it must be one of undecided, install, limited\)/],
    ['a prototype key', () => writeRaw('{"__proto__": {"hostsEntries": false}}'), /is refused \(key "__proto__" is not allowed\)/],
    ['deeply nested', () => writeRaw(`{"x": ${'['.repeat(200)}${']'.repeat(200)}}`), /is refused \(JSON nested deeper/],
    ['too large', () => writeRaw(`{"x": "${'a'.repeat(MAX_SETTINGS_BYTES)}"}`), new RegExp(`is larger than ${MAX_SETTINGS_BYTES} bytes`)],
  ])('%s', (_what, make, reason) => {
    make();
    const original = readFileSync(path);
    const { store, notice } = open();
    expect(store.get()).toEqual(DEFAULT_SETTINGS);
    expect(notice).toMatch(reason);
    expect(notice).toBe(
      `Your settings file ${path} ${notice!.slice(`Your settings file ${path} `.length, notice!.indexOf(', so Berth'))}, so Berth is using the default settings; the old file is kept as ${backupPath()}.`,
    );
    // Nothing lost: the backup holds the exact bytes, and the name is free for a good file.
    expect(readFileSync(backupPath()).equals(original)).toBe(true);
    expect(existsSync(path)).toBe(false);
    store.set({ key: 'startAtLogin', value: true });
    expect(fileJson()).toEqual({ startAtLogin: true });
    expect(readFileSync(backupPath()).equals(original)).toBe(true);
  });

  it('a symlink, a directory or a FIFO at the name is moved aside, never followed or read', () => {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const target = join(dir, 'elsewhere.json');
    writeFileSync(target, JSON.stringify({ hostsEntries: false }));
    symlinkSync(target, path);
    const linked = open();
    expect(linked.notice).toMatch(/is a symbolic link, not a file/);
    expect(linked.store.get()).toEqual(DEFAULT_SETTINGS);
    expect(lstatSync(backupPath()).isSymbolicLink()).toBe(true);
    expect(readFileSync(target, 'utf8')).toBe(JSON.stringify({ hostsEntries: false }));

    const later = new Date(FIXED_NOW.getTime() + 1000);
    mkdirSync(path);
    const asDir = SettingsStore.open({ path, locked: () => ({}), now: () => later });
    expect(asDir.notice).toMatch(/is not a regular file/);
    expect(lstatSync(`${path}.corrupt-${later.toISOString()}`).isDirectory()).toBe(true);

    const latest = new Date(FIXED_NOW.getTime() + 2000);
    execFileSync('mkfifo', [path]);
    // O_NONBLOCK: a FIFO nobody writes to must not hang the app.
    const asFifo = SettingsStore.open({ path, locked: () => ({}), now: () => latest });
    expect(asFifo.notice).toMatch(/is not a regular file/);
    expect(lstatSync(`${path}.corrupt-${latest.toISOString()}`).isFIFO()).toBe(true);
  });

  it('never overwrites an earlier backup made in the same millisecond', () => {
    writeRaw('first bad');
    open();
    writeRaw('second bad');
    const { notice } = open();
    expect(notice).toContain(`${backupPath()}-2.`);
    expect(readFileSync(backupPath(), 'utf8')).toBe('first bad');
    expect(readFileSync(`${backupPath()}-2`, 'utf8')).toBe('second bad');
  });

  it('says so, and changes nothing, when the corrupt file cannot be moved aside (read-only directory)', () => {
    assertPrivateMountNamespace();
    writeRaw('not json');
    execFileSync('mount', ['--bind', dir, dir]);
    undo.push(() => execFileSync('umount', [dir]));
    execFileSync('mount', ['-o', 'remount,ro,bind', dir]);
    expect(() => open()).toThrow(
      new RegExp(`^your settings file ${path.replace(/[.]/g, '\\.')} is not valid JSON and could not be moved aside \\(EROFS.*\\); nothing was changed$`),
    );
    expect(readFileSync(path, 'utf8')).toBe('not json');
    expect(readdirSync(dir)).toEqual(['settings.json']);
  });
});

describe('SettingsStore: the organization’s locks', () => {
  it('a locked key reads as the locked value, even when the file says otherwise; the file keeps the user’s own choice', () => {
    writeRaw(JSON.stringify({ cliToolsLocation: 'system', hostsEntries: false, startAtLogin: true }));
    locks = { cliToolsLocation: 'user', hostsEntries: true };
    const { store, notice } = open({ lockedBy: 'Example Corp policy v3' });
    expect(notice).toBeUndefined();
    expect(store.get()).toEqual({ ...DEFAULT_SETTINGS, cliToolsLocation: 'user', hostsEntries: true, startAtLogin: true });
    expect(store.locked()).toEqual({ cliToolsLocation: 'user', hostsEntries: true });
    // An unrelated change rewrites the file; the locked keys' own values stay in it.
    store.set({ key: 'startAtLogin', value: false });
    expect(fileJson()).toEqual({ hostsEntries: false });
    // The lock lifted: the user's choice is back.
    locks = {};
    expect(store.get()).toMatchObject({ hostsEntries: false, cliToolsLocation: 'system' });
  });

  it('refuses to change a locked key with LOCKED, naming the value and the policy; nothing changes', () => {
    writeRaw(JSON.stringify({ startAtLogin: true }));
    locks = { cliToolsLocation: 'user' };
    const { store } = open({ lockedBy: 'Example Corp policy v3' });
    const seen: SettingKey[][] = [];
    store.onChange((_s, keys) => seen.push(keys));
    const before = snapshot();
    const error = apiError(() => store.set({ key: 'cliToolsLocation', value: 'system' }));
    expect(error.code).toBe('LOCKED');
    expect(error.message).toBe('cliToolsLocation is locked to "user" by your organization (Example Corp policy v3)');
    expect(snapshot()).toEqual(before);
    expect(seen).toEqual([]);
    // Without a name for the policy, still one clear sentence.
    locks = { privilegedPortMapping: false };
    const anonymous = SettingsStore.open({ path, locked: () => locks }).store;
    expect(apiError(() => anonymous.set({ key: 'privilegedPortMapping', value: true })).message).toBe(
      'privilegedPortMapping is locked to false by your organization',
    );
  });

  it('setting a locked key to the value it is locked to succeeds and writes nothing (scripts can be idempotent)', () => {
    writeRaw(JSON.stringify({ hostsEntries: false }));
    locks = { hostsEntries: true };
    const { store } = open();
    const before = snapshot();
    expect(store.set({ key: 'hostsEntries', value: true })).toMatchObject({ hostsEntries: true });
    expect(snapshot()).toEqual(before);
  });

  it('reevaluateLocks tells listeners which settings a new policy changed', () => {
    const { store } = open();
    const seen: Array<[Settings, SettingKey[]]> = [];
    store.onChange((settings, keys) => seen.push([settings, keys]));
    expect(store.reevaluateLocks()).toEqual([]);
    locks = { startAtLogin: true, hostsEntries: true };
    expect(store.reevaluateLocks()).toEqual(['startAtLogin']);
    expect(seen).toEqual([[{ ...DEFAULT_SETTINGS, startAtLogin: true }, ['startAtLogin']]]);
    locks = {};
    expect(store.reevaluateLocks()).toEqual(['startAtLogin']);
    expect(store.get().startAtLogin).toBe(false);
  });
});

describe('SettingsStore: a failed save changes nothing', () => {
  it('FAILED when the directory is read-only; the file, the settings and the listeners are as before', () => {
    assertPrivateMountNamespace();
    writeRaw(JSON.stringify({ startAtLogin: true }));
    const { store } = open();
    const seen: SettingKey[][] = [];
    store.onChange((_s, keys) => seen.push(keys));
    execFileSync('mount', ['--bind', dir, dir]);
    undo.push(() => execFileSync('umount', [dir]));
    execFileSync('mount', ['-o', 'remount,ro,bind', dir]);
    const before = snapshot();
    const error = apiError(() => store.set({ key: 'hostsEntries', value: false }));
    expect(error.code).toBe('FAILED');
    expect(error.message).toMatch(new RegExp(`^could not save your settings to ${path.replace(/[.]/g, '\\.')}: EROFS.*; nothing was changed$`));
    expect(snapshot()).toEqual(before);
    expect(store.get()).toEqual({ ...DEFAULT_SETTINGS, startAtLogin: true });
    expect(seen).toEqual([]);
  });

  it('FAILED when the settings directory belongs to someone else', () => {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    chownSync(dir, users.test.uid, users.test.gid);
    const { store } = open();
    const error = apiError(() => store.set({ key: 'startAtLogin', value: true }));
    expect(error.code).toBe('FAILED');
    expect(error.message).toMatch(new RegExp(`belongs to uid ${users.test.uid}, not to you; nothing was changed$`));
    expect(readdirSync(dir)).toEqual([]);
    expect(store.get()).toEqual(DEFAULT_SETTINGS);
  });
});
