import { parseArgs } from 'node:util';
import { ApiError, type SettingChange } from '../../common/api/backend-api';
import type { LockedSettings, SettingKey, Settings } from '../../common/settings/schema';
import { userPaths } from '../../common/user-paths';
import { policyLocks, policySource, readAppPolicy, type AppPolicy } from '../core/policy/app-policy';
import { SETTING_DESCRIPTIONS, USER_SETTING_KEYS, describeValues, formatValue, isUserSettingKey, parseSettingValue } from '../core/settings/keys';
import { SettingsStore, invalidChangeMessage } from '../core/settings/store';
import { EXIT } from './exit-codes';
import type { CliIO } from './io';

/** What `berth settings get` reads. */
export interface SettingsSnapshot {
  settings: Settings;
  locked: LockedSettings;
  /** Who locked them ("Example Corp policy v3"), when known. */
  lockedBy?: string | null;
  /** Something the user must be told, e.g. a corrupt settings file was moved aside. */
  notice?: string;
}

/**
 * How the CLI reaches the settings: through the running backend's control
 * socket when there is one (so the app applies the change at once), or the
 * settings file directly when Berth is not running (directSettingsAccess).
 * Errors are ApiErrors: LOCKED, INVALID, FAILED.
 */
export interface SettingsAccess {
  get(): Promise<SettingsSnapshot>;
  set(change: SettingChange): Promise<Settings>;
}

/**
 * The settings file itself, with the locks of the policy in force (read once
 * per command). Used when no backend runs; the same SettingsStore the
 * backend uses, so the rules are the same.
 */
export function directSettingsAccess(path: string = userPaths().settingsPath, readPolicy: () => AppPolicy = () => readAppPolicy()): SettingsAccess {
  let policy: AppPolicy | undefined;
  const currentPolicy = (): AppPolicy => (policy ??= readPolicy());
  let opened: ReturnType<typeof SettingsStore.open> | undefined;
  const open = (): ReturnType<typeof SettingsStore.open> =>
    (opened ??= SettingsStore.open({ path, locked: () => policyLocks(currentPolicy()), lockedBy: () => policySource(currentPolicy()) }));
  return {
    async get() {
      const { store, notice } = open();
      return {
        settings: store.get(),
        locked: store.locked(),
        lockedBy: policySource(currentPolicy()),
        ...(notice !== undefined ? { notice } : {}),
      };
    },
    async set(change) {
      return open().store.set(change);
    },
  };
}

export const SETTINGS_USAGE = `Usage: berth settings get [KEY] [--json]
       berth settings set KEY VALUE

  get   Show your settings (or just KEY): each value, and "locked by" when your
        organization's policy locks it. --json prints {settings, locked, lockedBy}
        (with KEY: {key, value, locked, lockedBy}).
  set   Change one setting. Booleans take true/false (or on/off); the others take
        the words listed below. A locked setting cannot be changed.

Settings:
${USER_SETTING_KEYS.map((key) => `  ${key.padEnd(22)} ${describeValues(key)}\n  ${''.padEnd(22)} ${SETTING_DESCRIPTIONS[key]}\n`).join('')}
When Berth runs, the change goes through it and applies at once; otherwise the
settings file is changed, and Berth reads it when it next starts.

Exit codes: 0 ok, 1 error (e.g. the file could not be saved, or the CLI tools
could not be moved: they stay where they work), 6 locked by your
organization, 64 unknown setting, invalid value, or bad usage.
`;

/** Bad usage: one line, a pointer to the help, exit 64. */
function usage(io: CliIO, message: string): number {
  io.err(`berth settings: ${message}\nRun "berth settings --help" for usage.\n`);
  return EXIT.usage;
}

/** Names only the user's settings: the app's own records (consent, the update asked about) are not the CLI's to show. */
function unknownKey(io: CliIO, key: string): number {
  return usage(io, `unknown setting "${key.slice(0, 60)}"; the settings are: ${USER_SETTING_KEYS.join(', ')}`);
}

function lockNote(key: SettingKey, snapshot: SettingsSnapshot): string {
  if (!Object.prototype.hasOwnProperty.call(snapshot.locked, key)) return '';
  return `locked by ${snapshot.lockedBy ?? 'your organization'}`;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ').trimEnd()).join('\n') + '\n';
}

function exitForApiError(error: unknown, io: CliIO): number {
  if (error instanceof ApiError) {
    io.err(`berth settings: ${error.message}\n`);
    if (error.code === 'LOCKED') return EXIT.locked;
    if (error.code === 'INVALID') return EXIT.usage;
    return EXIT.error;
  }
  io.err(`berth settings: ${(error as Error).message}\n`);
  return EXIT.error;
}

/** The user's settings alone, in the schema's order. */
function userSettings(settings: Settings): Partial<Settings> {
  return Object.fromEntries(USER_SETTING_KEYS.map((key) => [key, settings[key]]));
}

async function get(argv: string[], io: CliIO, access: SettingsAccess): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, strict: true, allowPositionals: true, options: { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) {
    io.out(SETTINGS_USAGE);
    return EXIT.ok;
  }
  if (positionals.length > 1) return usage(io, `get takes at most one KEY (got ${positionals.length})`);
  const key = positionals[0];
  if (key !== undefined && !isUserSettingKey(key)) return unknownKey(io, key);
  let snapshot: SettingsSnapshot;
  try {
    snapshot = await access.get();
  } catch (error) {
    return exitForApiError(error, io);
  }
  if (snapshot.notice !== undefined) io.err(`berth settings: ${snapshot.notice}\n`);
  const lockedBy = snapshot.lockedBy ?? null;
  if (values.json) {
    const json =
      key === undefined
        ? { settings: userSettings(snapshot.settings), locked: snapshot.locked, lockedBy }
        : { key, value: snapshot.settings[key], locked: Object.prototype.hasOwnProperty.call(snapshot.locked, key), lockedBy };
    io.out(JSON.stringify(json, null, 2) + '\n');
    return EXIT.ok;
  }
  const keys = key === undefined ? USER_SETTING_KEYS : [key];
  io.out(table([['KEY', 'VALUE', ''], ...keys.map((k) => [k, formatValue(snapshot.settings[k]), lockNote(k, snapshot)])]));
  return EXIT.ok;
}

async function set(argv: string[], io: CliIO, access: SettingsAccess): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, strict: true, allowPositionals: true, options: { help: { type: 'boolean', short: 'h' } } });
  if (values.help) {
    io.out(SETTINGS_USAGE);
    return EXIT.ok;
  }
  const [key, word, ...extra] = positionals;
  if (key === undefined || word === undefined) return usage(io, 'set needs a KEY and a VALUE, e.g. berth settings set startAtLogin on');
  if (extra.length > 0) return usage(io, `set takes one KEY and one VALUE (got ${positionals.length} words; quote a value with spaces)`);
  if (!isUserSettingKey(key)) return unknownKey(io, key);
  const value = parseSettingValue(key, word);
  if (value === undefined) return usage(io, invalidChangeMessage({ key, value: word }));
  try {
    const before = await access.get();
    if (before.notice !== undefined) io.err(`berth settings: ${before.notice}\n`);
    const after = await access.set({ key, value } as SettingChange);
    io.out(before.settings[key] === after[key] ? `${key} is already ${formatValue(after[key])}\n` : `${key} set to ${formatValue(after[key])}\n`);
    return EXIT.ok;
  } catch (error) {
    return exitForApiError(error, io);
  }
}

/** `berth settings get|set`; `access` is the backend (control socket) or directSettingsAccess. */
export async function settingsCommand(argv: string[], io: CliIO, access: SettingsAccess): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === '--help' || sub === '-h') {
    if (sub === undefined) {
      io.err(SETTINGS_USAGE);
      return EXIT.usage;
    }
    io.out(SETTINGS_USAGE);
    return EXIT.ok;
  }
  try {
    switch (sub) {
      case 'get':
        return await get(rest, io, access);
      case 'set':
        return await set(rest, io, access);
      default:
        return usage(io, `unknown settings command "${sub}" (get or set)`);
    }
  } catch (error) {
    // parseArgs: an unknown option or a missing option value.
    if ((error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) return usage(io, (error as Error).message);
    throw error;
  }
}
