import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ADDON_FILE, isSingleExecutable } from '../../native';
import { packagedResourcesDir } from './app-location';
import { helperSignatureVerdict, signatureVouches } from './code-signature';
import { runElevated, type ElevationOutcome } from './elevate';
import { changeableWarning, whoCanChange, type ChangeabilityReport } from './who-can-change';

/**
 * The bundled helper, as the argv prefix the elevated prompt runs. It must
 * sit outside app.asar (an elevated process cannot read inside it): the
 * packaged app (and its packaged CLI) ships it under resources/helper/; from a
 * checkout or the CLI bundle it is dist/helper/berth-helper.js, run by this same Node.
 */
export function bundledHelperCommand(): string[] {
  const resources = packagedResourcesDir();
  const packaged = resources !== undefined ? join(resources, 'helper', 'berth-helper') : undefined;
  if (packaged !== undefined && existsSync(packaged)) return [packaged];
  // The packaged CLI has no bundle to fall back to: its app is incomplete.
  if (resources !== undefined && isSingleExecutable()) {
    throw new Error(`the helper is missing from the installed app (looked for ${packaged}); reinstall Berth`);
  }
  const bundle = join(dirname(__dirname), 'helper', 'berth-helper.js');
  if (!existsSync(bundle)) throw new Error(`the bundled helper is missing (looked for ${bundle}); run "npm run build"`);
  return [process.execPath, bundle];
}

/**
 * Every file the elevated command makes root run: the program (the helper's
 * single executable, or node and the bundle it runs) and the addon the
 * helper loads (native/loader.ts: beside it; for a bundle, build/Release/
 * when none is beside it).
 */
export function elevatedFiles(helper: readonly string[]): string[] {
  const files = helper.filter((part) => part.startsWith('/'));
  const last = helper.at(-1);
  if (last === undefined) return files;
  const beside = join(dirname(last), ADDON_FILE);
  const built = join(dirname(last), 'build', 'Release', ADDON_FILE);
  files.push(!existsSync(beside) && existsSync(built) ? built : beside);
  return files;
}

/** Who can change the helper the prompt would run; every file of {@link elevatedFiles}. */
export function bundledHelperSafety(helper: readonly string[] = bundledHelperCommand()): ChangeabilityReport {
  return whoCanChange(elevatedFiles(helper));
}

/**
 * The consent screen's and the CLI's warning, before any prompt: one
 * sentence when a user other than root can change the helper; null when
 * only root can, or when the helper is missing (the install says so itself).
 */
export function helperInstallWarning(): string | null {
  // A signed macOS build is checked by its signature right before the prompt (see runHelperElevated).
  if (signatureVouches()) return null;
  let helper: string[];
  try {
    helper = bundledHelperCommand();
  } catch {
    return null;
  }
  return changeableWarning(bundledHelperSafety(helper));
}

/**
 * Every elevated command starts with an empty environment: the helper is a
 * Node program, and NODE_OPTIONS (or OPENSSL_CONF, NODE_EXTRA_CA_CERTS...)
 * left in it would run code as root. pkexec clears it itself; osascript's
 * `with administrator privileges` may not.
 */
export const CLEAN_ENVIRONMENT = ['/usr/bin/env', '-i', 'PATH=/usr/sbin:/usr/bin:/sbin:/bin'] as const;

/**
 * The argv the prompt runs: the helper and its arguments. On Linux the
 * helper itself is pkexec's program (an `env` in front would make polkit
 * check the generic action for /usr/bin/env instead of Berth's own).
 */
export function elevatedArgv(helper: readonly string[], args: readonly string[], platform: NodeJS.Platform = process.platform): string[] {
  return platform === 'darwin' ? [...CLEAN_ENVIRONMENT, ...helper, ...args] : [...helper, ...args];
}

export interface ElevatedHelperOptions {
  /**
   * The user read the warning that someone other than root can change the
   * helper (a development copy) and chose to go on. Default: refuse.
   */
  allowUnsafeLocation?: boolean;
}

/**
 * The one path to the prompt for the bundled helper. Right before asking:
 * who can change what root is about to run; if anyone but root can, no
 * prompt unless the user confirmed (a password typed for a file that
 * anything running as the user could have swapped is a password for that
 * code).
 */
async function runHelperElevated(args: readonly string[], options: ElevatedHelperOptions): Promise<ElevationOutcome> {
  const helper = bundledHelperCommand();
  const warning = signatureVouches() ? null : changeableWarning(bundledHelperSafety(helper));
  if (warning !== null && options.allowUnsafeLocation !== true) return { kind: 'unsafe-location', warning };
  // macOS, a signed build: only files signed by Berth's team run as root; no confirmation overrides it.
  const signature = helperSignatureVerdict(elevatedFiles(helper));
  if (!signature.ok) return { kind: 'untrusted-helper', detail: signature.reason };
  return runElevated(elevatedArgv(helper, args), { name: 'Berth' });
}

/** One prompt, one fixed command: install (or upgrade) the helper for this user. */
export function installHelperElevated(
  appPath: string,
  uid: number = process.getuid?.() ?? -1,
  options: ElevatedHelperOptions = {},
): Promise<ElevationOutcome> {
  return runHelperElevated(['install', '--app', appPath, '--uid', String(uid)], options);
}

/**
 * One prompt, one fixed command: uninstall the helper for this user. While
 * other accounts on the machine are enrolled, that ends only this user's
 * enrolment (the helper stays for them); the last account's removes it all.
 * Root (no uid of its own to leave) removes everything.
 */
export function uninstallHelperElevated(uid: number = process.getuid?.() ?? -1, options: ElevatedHelperOptions = {}): Promise<ElevationOutcome> {
  return runHelperElevated(uid === 0 ? ['uninstall'] : ['uninstall', '--uid', String(uid)], options);
}
