import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { assertPrivateMountNamespace } from '../../test/support/namespace';
import { finished, spawnFixtureAs } from '../../test/support/processes';
import { ControlClient } from '../core/control/client';
import { NO_POLICY, readAppPolicy, type AppPolicy } from '../core/policy/app-policy';
import { policyMachine, type PolicyMachine } from '../core/policy/test-setup';
import { parseSettingValue, settingKind } from '../core/settings/keys';
import { EXIT } from './exit-codes';
import type { CliIO } from './io';
import { SETTINGS_USAGE, directSettingsAccess, settingsCommand, type SettingsAccess } from './settings-command';

const users = inject('users');
let path: string;
let policy: () => AppPolicy;
let machine: PolicyMachine;
const undo: Array<() => void> = [];

beforeEach(() => {
  path = join(mkdtempSync(join(tmpdir(), 'berth-settings-cli-')), 'berth', 'settings.json');
  policy = () => NO_POLICY;
  machine = policyMachine('berth-settings-cli', users.test.uid);
});
afterEach(() => {
  for (const fn of undo.splice(0).reverse()) fn();
});

/** The organization locks cliToolsLocation to "user" and hostsEntries to true (see test-setup). */
function managed(): void {
  machine.writeConfig();
  machine.writeCache();
  policy = () => readAppPolicy({ configPath: machine.configPath });
}

async function run(args: string[], access: SettingsAccess = directSettingsAccess(path, policy)): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: CliIO = { out: (t) => (out += t), err: (t) => (err += t) };
  const code = await settingsCommand(args, io, access);
  return { code, out, err };
}

const fileBytes = (): string | null => (existsSync(path) ? readFileSync(path, 'utf8') : null);

describe('berth settings: help and usage', () => {
  it("--help lists the user's settings with the values they take (not the app's own records); no command is a usage error", async () => {
    const help = await run(['--help']);
    expect(help).toEqual({ code: EXIT.ok, out: SETTINGS_USAGE, err: '' });
    expect(help.out).toMatch(/^ {2}privilegedPortMapping +true or false \(also on\/off\)$/m);
    expect(help.out).toMatch(/^ {2}cliToolsLocation +system or user$/m);
    expect(help.out).toMatch(/^ {2}startAtLogin +true or false \(also on\/off\)$/m);
    expect(help.out).not.toMatch(/consent|helperUpdateAskedFor/);
    expect(help.out).toMatch(/6 locked by your\norganization/);
    expect(await run(['get', '--help'])).toMatchObject({ code: EXIT.ok, out: SETTINGS_USAGE });
    expect(await run(['set', '-h'])).toMatchObject({ code: EXIT.ok, out: SETTINGS_USAGE });
    expect(await run([])).toEqual({ code: EXIT.usage, out: '', err: SETTINGS_USAGE });
  });

  it.each<[string[], RegExp]>([
    [['list'], /unknown settings command "list" \(get or set\)/],
    [['get', 'a', 'b'], /get takes at most one KEY \(got 2\)/],
    [['get', '--yaml'], /Unknown option '--yaml'/],
    [['set'], /set needs a KEY and a VALUE, e.g\. berth settings set startAtLogin on/],
    [['set', 'startAtLogin'], /set needs a KEY and a VALUE/],
    [['set', 'startAtLogin', 'on', 'now'], /set takes one KEY and one VALUE \(got 3 words; quote a value with spaces\)/],
    [['set', 'startAtLogin', 'on', '--json'], /Unknown option '--json'/],
  ])('%j → 64, one line and a pointer to the help; nothing written', async (args, message) => {
    const result = await run(args);
    expect(result.code).toBe(EXIT.usage);
    expect(result.out).toBe('');
    expect(result.err).toMatch(message);
    expect(result.err).toMatch(/\nRun "berth settings --help" for usage\.\n$/);
    expect(fileBytes()).toBeNull();
  });
});

describe('berth settings get', () => {
  it("a table of the user's settings; locked ones are marked with the organization", async () => {
    managed();
    const result = await run(['get']);
    expect(result.code).toBe(EXIT.ok);
    expect(result.err).toBe('');
    expect(result.out).toBe(
      [
        'KEY                    VALUE',
        'privilegedPortMapping  true',
        'cliToolsLocation       user   locked by Example Corp policy v3',
        'hostsEntries           true   locked by Example Corp policy v3',
        'startAtLogin           false',
        '',
      ].join('\n'),
    );
  });

  it('one KEY, and --json for the whole set or one key', async () => {
    managed();
    expect((await run(['get', 'startAtLogin'])).out).toBe('KEY           VALUE\nstartAtLogin  false\n');
    const all = await run(['get', '--json']);
    expect(JSON.parse(all.out)).toEqual({
      settings: { privilegedPortMapping: true, cliToolsLocation: 'user', hostsEntries: true, startAtLogin: false },
      locked: { cliToolsLocation: 'user', hostsEntries: true },
      lockedBy: 'Example Corp policy v3',
    });
    expect(JSON.parse((await run(['get', 'cliToolsLocation', '--json'])).out)).toEqual({
      key: 'cliToolsLocation',
      value: 'user',
      locked: true,
      lockedBy: 'Example Corp policy v3',
    });
    expect(JSON.parse((await run(['get', 'startAtLogin', '--json'])).out)).toMatchObject({ value: false, locked: false });
  });

  it.each(['darkMode', 'consent', 'helperUpdateAskedFor'])("%s → 64, listing the user's settings", async (key) => {
    expect(await run(['get', key])).toMatchObject({
      code: EXIT.usage,
      out: '',
      err: expect.stringMatching(
        new RegExp(`^berth settings: unknown setting "${key}"; the settings are: privilegedPortMapping, cliToolsLocation, hostsEntries, startAtLogin\n`),
      ),
    });
  });

  it('a corrupt settings file: the user is told where the backup is, and the defaults are shown', async () => {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, '{"startAtLogin": true,');
    const result = await run(['get', 'startAtLogin']);
    expect(result.code).toBe(EXIT.ok);
    expect(result.out).toBe('KEY           VALUE\nstartAtLogin  false\n');
    expect(result.err).toMatch(
      new RegExp(`^berth settings: Your settings file ${path.replace(/[.]/g, '\\.')} is not valid JSON, so Berth is using the default settings; the old file is kept as ${path.replace(/[.]/g, '\\.')}\\.corrupt-\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z\\.\\n$`),
    );
    const backups = readdirSync(dirname(path)).filter((f) => f.startsWith('settings.json.corrupt-'));
    expect(backups).toHaveLength(1);
    expect(readFileSync(join(dirname(path), backups[0]!), 'utf8')).toBe('{"startAtLogin": true,');
  });
});

describe('berth settings set', () => {
  it.each<[string, string, Record<string, unknown>]>([
    ['startAtLogin', 'on', { startAtLogin: true }],
    ['startAtLogin', 'TRUE', { startAtLogin: true }],
    ['privilegedPortMapping', 'off', { privilegedPortMapping: false }],
    ['hostsEntries', 'no', { hostsEntries: false }],
    ['cliToolsLocation', 'User', { cliToolsLocation: 'user' }],
  ])('%s %s', async (key, word, stored) => {
    const result = await run(['set', key, word]);
    expect(result).toEqual({ code: EXIT.ok, out: `${key} set to ${String(Object.values(stored)[0])}\n`, err: '' });
    expect(JSON.parse(fileBytes()!)).toEqual(stored);
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  it('says when the value is already set, and setting the default back empties the file', async () => {
    expect((await run(['set', 'startAtLogin', 'off'])).out).toBe('startAtLogin is already false\n');
    await run(['set', 'startAtLogin', 'on']);
    expect(await run(['set', 'startAtLogin', 'off'])).toMatchObject({ code: EXIT.ok, out: 'startAtLogin set to false\n' });
    expect(JSON.parse(fileBytes()!)).toEqual({});
  });

  it.each<[string[], RegExp]>([
    [['set', 'darkMode', 'on'], /^berth settings: unknown setting "darkMode"; the settings are: privilegedPortMapping, cliToolsLocation/],
    [['set', 'hostsEntries', 'maybe'], /^berth settings: hostsEntries cannot be "maybe"; it must be true or false \(also on\/off\)\n/],
    [['set', 'cliToolsLocation', 'homebrew'], /^berth settings: cliToolsLocation cannot be "homebrew"; it must be system or user\n/],
    // The app's own records are not the CLI's to change: the first-run answer, the update last asked about.
    [['set', 'consent', 'limited'], /^berth settings: unknown setting "consent"; the settings are: privilegedPortMapping, cliToolsLocation, hostsEntries, startAtLogin\n/],
    [['set', 'helperUpdateAskedFor', '0.3.1'], /^berth settings: unknown setting "helperUpdateAskedFor"/],
  ])('%j → 64 with the valid keys or values; the file is unchanged', async (args, message) => {
    await run(['set', 'startAtLogin', 'on']);
    const before = fileBytes();
    const result = await run(args);
    expect(result.code).toBe(EXIT.usage);
    expect(result.err).toMatch(message);
    expect(fileBytes()).toBe(before);
  });

  it('a locked setting → 6, "locked by your organization", naming the policy; the file is unchanged', async () => {
    managed();
    await run(['set', 'startAtLogin', 'on']);
    const before = fileBytes();
    const result = await run(['set', 'cliToolsLocation', 'system']);
    expect(result).toEqual({
      code: EXIT.locked,
      out: '',
      err: 'berth settings: cliToolsLocation is locked to "user" by your organization (Example Corp policy v3)\n',
    });
    expect(fileBytes()).toBe(before);
    // Asking for the value it is locked to is fine (idempotent scripts).
    expect(await run(['set', 'hostsEntries', 'on'])).toMatchObject({ code: EXIT.ok, out: 'hostsEntries is already true\n' });
    expect(fileBytes()).toBe(before);
  });

  it('a file that cannot be saved → 1 with the reason; nothing changed', async () => {
    assertPrivateMountNamespace();
    await run(['set', 'startAtLogin', 'on']);
    const dir = dirname(path);
    execFileSync('mount', ['--bind', dir, dir]);
    undo.push(() => execFileSync('umount', [dir]));
    execFileSync('mount', ['-o', 'remount,ro,bind', dir]);
    const result = await run(['set', 'hostsEntries', 'off']);
    expect(result.code).toBe(EXIT.error);
    expect(result.err).toMatch(/^berth settings: could not save your settings to .*: EROFS.*; nothing was changed\n$/);
    expect(JSON.parse(fileBytes()!)).toEqual({ startAtLogin: true });
  });

  it('when the backend cannot be reached, the error is one line and exit 1', async () => {
    const socket = join(dirname(path), 'control.sock');
    const viaBackend: SettingsAccess = {
      async get() {
        const client = await ControlClient.connect(socket);
        client.close();
        throw new Error('unreachable');
      },
      async set() {
        throw new Error('unreachable');
      },
    };
    const result = await run(['set', 'startAtLogin', 'on'], viaBackend);
    expect(result).toEqual({ code: EXIT.error, out: '', err: `berth settings: Berth is not running (no app answers on ${socket}); start it with "berth app" or from your applications menu\n` });
    expect(fileBytes()).toBeNull();
  });
});

describe('berth settings as the unprivileged user (the file is theirs, the policy root’s)', () => {
  it('set and get through the settings file; a locked setting exits 6', async () => {
    managed();
    const home = mkdtempSync(join(tmpdir(), 'berth-settings-user-'));
    chownSync(home, users.test.uid, users.test.gid);
    const userPath = join(home, '.config/berth/settings.json');
    const cli = (...args: string[]) => finished(spawnFixtureAs(users.test, 'policy-settings', ['settings', userPath, machine.configPath, ...args]));
    expect(await cli('set', 'startAtLogin', 'on')).toMatchObject({ code: 0, stdout: 'startAtLogin set to true\n', stderr: '' });
    const st = lstatSync(userPath);
    expect([st.uid, st.mode & 0o777]).toEqual([users.test.uid, 0o600]);
    expect(statSync(dirname(userPath)).mode & 0o777).toBe(0o700);
    expect(await cli('set', 'cliToolsLocation', 'system')).toMatchObject({
      code: 6,
      stderr: 'berth settings: cliToolsLocation is locked to "user" by your organization (Example Corp policy v3)\n',
    });
    const got = await cli('get', '--json');
    expect(got.code).toBe(0);
    expect(JSON.parse(got.stdout)).toMatchObject({ settings: { startAtLogin: true, cliToolsLocation: 'user' }, lockedBy: 'Example Corp policy v3' });
  });
});

describe('settings keys (read from the schema)', () => {
  it('knows each key’s kind and parses words for it', () => {
    expect(settingKind('startAtLogin')).toEqual({ kind: 'boolean' });
    expect(settingKind('cliToolsLocation')).toEqual({ kind: 'enum', values: ['system', 'user'] });
    expect(settingKind('helperUpdateAskedFor')).toEqual({ kind: 'text', nullable: true, maxLength: 64 });
    expect(parseSettingValue('startAtLogin', '1')).toBe(true);
    expect(parseSettingValue('startAtLogin', 'nope')).toBeUndefined();
    expect(parseSettingValue('consent', 'INSTALL')).toBe('install');
    expect(parseSettingValue('consent', 'sure')).toBeUndefined();
  });
});
