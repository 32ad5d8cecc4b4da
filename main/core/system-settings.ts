import { lstatSync, readlinkSync, rmSync, symlinkSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { CLI_TOOLS, SYSTEM_BIN_DIR, cliToolTarget } from '../../common/cli-tools';
import type { Capabilities } from '../../common/api/capabilities';
import type { LockedSettings, SettingKey, Settings } from '../../common/settings/schema';
import { HelperRequestError, type HelperClient } from '../helper-client';
import { ensurePrivateDirectory } from './fs/user-file';

/** Start at login, done the platform's way (Electron's login items, or XDG autostart). */
export interface LoginItem {
  /** What turning it on does, one sentence for Settings (e.g. "Open Berth in the menu bar when you log in."). */
  readonly description: string;
  set(enabled: boolean): Promise<void> | void;
}

export interface ApplyOptions {
  keys: readonly SettingKey[];
  settings: Settings;
  helper: () => Promise<HelperClient | undefined>;
  appPath: string;
  userBinDir: string;
  loginItem?: LoginItem;
}

type CliToolsLocation = Settings['cliToolsLocation'];

const NEEDS_HELPER = 'the privileged helper is not running; it will apply when the helper is installed';

/**
 * "Not now — limited mode" (or a prompt refused on the way in) with no helper
 * for this account: the System location (/usr/local/bin) cannot be linked,
 * so the tools move to the User location (~/.berth/bin, no password), as the
 * consent screen and the limited-mode card say. Null when nothing changes: the
 * tools are there already, a helper links them, or a policy holds the location.
 */
export function limitedModeCliTools(
  settings: Settings,
  locked: LockedSettings,
  helper: Capabilities['helper']['state'],
): { key: 'cliToolsLocation'; value: 'user' } | null {
  if (settings.cliToolsLocation === 'user' || locked.cliToolsLocation !== undefined) return null;
  const noHelper = helper === 'not-installed' || helper === 'not-enrolled' || helper === 'user-mode';
  return noHelper ? { key: 'cliToolsLocation', value: 'user' } : null;
}

/**
 * One thing that did not reach the machine: one sentence, and at most one
 * line of detail (the cause as the system said it). `setting` names the
 * setting it belongs to (one notice per setting: a newer report replaces an
 * older one); `needsHelper` marks the ones that are true only while no
 * helper runs.
 */
export interface SettingProblem {
  setting: SettingKey;
  text: string;
  detail?: string;
  needsHelper?: true;
}

/**
 * The problem for a setting saved while the helper is away: true only until
 * the helper arrives and the reconciler (reconcile.ts) carries it out, which
 * then withdraws it.
 */
export function waitingForHelper(key: 'hostsEntries' | 'cliToolsLocation', settings: Settings): SettingProblem {
  const text =
    key === 'hostsEntries'
      ? `Hosts entries saved as ${settings.hostsEntries ? 'on' : 'off'}, but ${NEEDS_HELPER}.`
      : `CLI tools location saved as System, but ${NEEDS_HELPER}.`;
  return { setting: key, text, needsHelper: true };
}

/**
 * Makes the machine match the settings that reach outside the app: hosts
 * entries and system CLI links through the helper, user CLI links in the
 * user's own bin directory, start at login. Returns one sentence per
 * problem (the settings themselves are already saved), and a CLI location
 * switch the machine refused: the caller sets the setting back to the
 * location still in force.
 */
export async function applySystemSettings(options: ApplyOptions): Promise<ApplyReport> {
  const problems: SettingProblem[] = [];
  let refused: ApplyReport['refused'];
  const { keys, settings } = options;
  const wantsHelper = keys.includes('hostsEntries') || keys.includes('cliToolsLocation');
  const helper = wantsHelper ? await options.helper() : undefined;
  try {
    if (keys.includes('hostsEntries')) {
      if (helper === undefined) problems.push(waitingForHelper('hostsEntries', settings));
      else await attempt(problems, 'hostsEntries', 'The hosts entries could not be changed.', () => helper.request(settings.hostsEntries ? 'ensureHosts' : 'removeHosts', {}));
    }
    if (keys.includes('cliToolsLocation')) {
      const moved = await moveCliTools(settings.cliToolsLocation, helper, options);
      problems.push(...moved.problems);
      if (moved.refused !== undefined) refused = moved.refused;
    }
  } finally {
    helper?.close();
  }
  if (keys.includes('startAtLogin') && options.loginItem !== undefined) {
    await attempt(problems, 'startAtLogin', 'Start at login could not be changed.', () => options.loginItem!.set(settings.startAtLogin));
  }
  return refused === undefined ? { problems } : { problems, refused };
}

/** What applying did: sentences to show, and the CLI location change the machine refused (the old location is kept). */
export interface ApplyReport {
  problems: SettingProblem[];
  /** The location still in force, and one sentence saying why and what to do. */
  refused?: { cliToolsLocation: CliToolsLocation; reason: string };
}

/**
 * Moves the CLI tools to `wanted`: the new links are made first, and the old
 * ones are removed only once the new ones exist. A user who switches and is
 * refused keeps the tools that worked (never left with no `berth` at all).
 */
async function moveCliTools(
  wanted: CliToolsLocation,
  helper: HelperClient | undefined,
  options: ApplyOptions,
): Promise<{ problems: SettingProblem[]; refused?: NonNullable<ApplyReport['refused']> }> {
  const names = [...CLI_TOOLS];
  const problems: SettingProblem[] = [];
  if (wanted === 'user') {
    try {
      linkUserTools(options.appPath, options.userBinDir);
    } catch (error) {
      // The system links stay: they are the only working tools. (Without a helper they may not exist yet: say only what is sure.)
      const stay = helper === undefined ? 'The CLI tools location stays System' : `Your CLI tools stay in the system location (${SYSTEM_BIN_DIR})`;
      const reason = `${stay}, because they could not be linked into ${options.userBinDir}: ${plainReason(error)}.`;
      return { problems, refused: { cliToolsLocation: 'system', reason } };
    }
    if (helper !== undefined) await attempt(problems, 'cliToolsLocation', `The old CLI links in ${SYSTEM_BIN_DIR} could not be removed.`, () => helper.request('removeSymlinks', { names }));
    return { problems };
  }
  if (helper === undefined) {
    // Nothing removed: the user links keep working until the helper can make the system ones.
    problems.push(waitingForHelper('cliToolsLocation', options.settings));
    return { problems };
  }
  try {
    await helper.request('installSymlinks', { names });
  } catch (error) {
    // The user links stay: they are the only working tools. They are made when missing (the first
    // System attempt, right after the helper's install), so the User setting now in force is true.
    await attempt(problems, 'cliToolsLocation', `The CLI tools could not be linked into ${options.userBinDir}.`, () => linkUserTools(options.appPath, options.userBinDir));
    const advice =
      error instanceof HelperRequestError && error.code === 'UNSAFE_PATH'
        ? '; to use the System location, install Berth where only root can write (for example under /opt)'
        : '';
    const reason = `Your CLI tools stay in ${options.userBinDir}, because the helper did not link them into ${SYSTEM_BIN_DIR}: ${plainReason(error)}${advice}.`;
    return { problems, refused: { cliToolsLocation: 'user', reason } };
  }
  await attempt(problems, 'cliToolsLocation', `The old CLI links in ${options.userBinDir} could not be removed.`, () => unlinkUserTools(options.appPath, options.userBinDir));
  return { problems };
}

/** The cause alone: the helper's own "nothing was changed" and advice that does not fit here (it points back at User) are cut. */
function plainReason(error: unknown): string {
  const message = (error as Error).message;
  return message.split(/; nothing was (?:changed|removed)/)[0]!.replace(/[.;\s]+$/, '');
}

async function attempt(problems: SettingProblem[], setting: SettingKey, text: string, action: () => unknown): Promise<void> {
  try {
    await action();
  } catch (error) {
    problems.push({ setting, text, detail: (error as Error).message });
  }
}

/** Links each tool into the user's bin dir; replaces only our own earlier link, never a file of the user's. */
export function linkUserTools(appPath: string, userBinDir: string): void {
  ensurePrivateDirectory(userBinDir);
  for (const name of CLI_TOOLS) {
    const link = join(userBinDir, name);
    const target = cliToolTarget(appPath, name);
    const current = linkTarget(link);
    if (current === target) continue;
    if (current === null) throw new Error(`${link} exists and is not a link Berth made; move it away first`);
    // Atomic swap: a new link beside it, renamed over the old one.
    const temp = `${link}.berth-new`;
    rmSync(temp, { force: true });
    symlinkSync(target, temp);
    renameSync(temp, link);
  }
}

/** Removes only links that point at this app. */
export function unlinkUserTools(appPath: string, userBinDir: string): void {
  for (const name of CLI_TOOLS) {
    const link = join(userBinDir, name);
    if (linkTarget(link) === cliToolTarget(appPath, name)) rmSync(link);
  }
}

/** The link's target; undefined when nothing is there; null when something that is not a symlink is. */
function linkTarget(path: string): string | undefined | null {
  try {
    if (!lstatSync(path).isSymbolicLink()) return null;
  } catch {
    return undefined;
  }
  return readlinkSync(path);
}
