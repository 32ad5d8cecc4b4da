import { lstatSync, readlinkSync, rmSync, symlinkSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { CLI_TOOLS, cliToolTarget } from '../../common/cli-tools';
import type { SettingKey, Settings } from '../../common/settings/schema';
import type { HelperClient } from '../helper-client';
import { ensurePrivateDirectory } from './fs/user-file';

/** Start at login, done the platform's way (Electron's login items, or XDG autostart). */
export interface LoginItem {
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

const NEEDS_HELPER = 'the privileged helper is not running; it will apply when the helper is installed';

/**
 * Makes the machine match the settings that reach outside the app: hosts
 * entries and system CLI links through the helper, user CLI links in the
 * user's own bin directory, start at login. Returns one sentence per
 * problem; the settings themselves are already saved.
 */
export async function applySystemSettings(options: ApplyOptions): Promise<string[]> {
  const problems: string[] = [];
  const { keys, settings } = options;
  const wantsHelper = keys.includes('hostsEntries') || keys.includes('cliToolsLocation');
  const helper = wantsHelper ? await options.helper() : undefined;
  try {
    if (keys.includes('hostsEntries')) {
      if (helper === undefined) problems.push(`Hosts entries saved as ${settings.hostsEntries ? 'on' : 'off'}, but ${NEEDS_HELPER}.`);
      else await attempt(problems, 'Hosts entries', () => helper.request(settings.hostsEntries ? 'ensureHosts' : 'removeHosts', {}));
    }
    if (keys.includes('cliToolsLocation')) {
      const names = [...CLI_TOOLS];
      if (settings.cliToolsLocation === 'user') {
        await attempt(problems, 'CLI tools in your bin directory', () => linkUserTools(options.appPath, options.userBinDir));
        if (helper !== undefined) await attempt(problems, 'Removing the system CLI links', () => helper.request('removeSymlinks', { names }));
      } else {
        if (helper === undefined) problems.push(`CLI tools location saved as System, but ${NEEDS_HELPER}.`);
        else {
          await attempt(problems, 'CLI tools in /usr/local/bin', () => helper.request('installSymlinks', { names }));
          await attempt(problems, 'Removing the CLI links in your bin directory', () => unlinkUserTools(options.appPath, options.userBinDir));
        }
      }
    }
  } finally {
    helper?.close();
  }
  if (keys.includes('startAtLogin') && options.loginItem !== undefined) {
    await attempt(problems, 'Start at login', () => options.loginItem!.set(settings.startAtLogin));
  }
  return problems;
}

async function attempt(problems: string[], what: string, action: () => unknown): Promise<void> {
  try {
    await action();
  } catch (error) {
    problems.push(`${what}: ${(error as Error).message}`);
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
