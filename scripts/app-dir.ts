// The Electron app as a plain folder, laid out as electron-builder packs it:
// what app.asar holds (package.json and the `files` of electron-builder.yml)
// and, for a run that installs the helper, the `extraResources` (the helper
// and CLI single executables) where an installed app has them. The
// end-to-end suite hands this folder to `_electron.launch`
// (e2e/support/global-setup.ts), and scripts/app-dir.test.ts checks that the
// very same folder is an app Electron can start. Read from electron-builder's
// own config loader, so the folder follows electron-builder.yml.
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, posix, relative, sep } from 'node:path';
import type { Configuration, FileSet } from 'app-builder-lib';
import { getConfig } from 'app-builder-lib/out/util/config/config';
import { appResourcesDir } from '../common/cli-tools';
import { REPO_ROOT } from '../test/support/constants';

export interface AppDirOptions {
  /** The checkout to take the build from (its dist/, package.json, electron-builder.yml). */
  root?: string;
  /** Whose layout the resources take (macOS: Contents/Resources). */
  platform?: NodeJS.Platform;
}

/** The app's manifest as Electron reads it. */
export interface AppManifest {
  name: string;
  productName?: string;
  version: string;
  main: string;
}

const GLOB = /[*?[\]{}!]/;

/** electron-builder's `files`, `extraResources`: a value, a list, strings or file sets. */
function asList<T>(value: T | T[] | null | undefined): T[] {
  return value == null ? [] : Array.isArray(value) ? value : [value];
}

function patternsOf(config: Configuration): string[] {
  return asList(config.files).flatMap((entry) => {
    if (typeof entry === 'string') return [entry];
    // electron-builder's loader turns the list into one file set of the app folder itself.
    if ((entry.from === undefined || entry.from === '.') && (entry.to === undefined || entry.to === '.')) return asList(entry.filter);
    throw new Error(`app-dir: electron-builder.yml "files" has a file set (${JSON.stringify(entry)}); only patterns are followed here`);
  });
}

/**
 * A matcher for the pattern forms electron-builder.yml uses: `DIR/**`, a
 * plain file, `!**\/*.EXT` and `!DIR/**`. Any other form is refused rather
 * than guessed at, so a new pattern cannot silently leave a file out.
 */
function fileMatcher(patterns: readonly string[]): (path: string) => boolean {
  const include: Array<(path: string) => boolean> = [];
  const exclude: Array<(path: string) => boolean> = [];
  for (const pattern of patterns) {
    const negated = pattern.startsWith('!');
    const body = negated ? pattern.slice(1) : pattern;
    let test: (path: string) => boolean;
    const underDir = /^([^*?[\]{}!]+)\/\*\*$/.exec(body);
    const byExtension = /^\*\*\/\*(\.[A-Za-z0-9]+)$/.exec(body);
    if (underDir !== null) test = (path) => path.startsWith(`${underDir[1]}/`);
    else if (byExtension !== null) test = (path) => path.endsWith(byExtension[1]!);
    else if (!GLOB.test(body)) test = (path) => path === body;
    else throw new Error(`app-dir: cannot follow the electron-builder files pattern "${pattern}"`);
    (negated ? exclude : include).push(test);
  }
  return (path) => include.some((t) => t(path)) && !exclude.some((t) => t(path));
}

/** Every file under `dir`, as a posix path relative to `root`. */
function filesUnder(root: string, dir: string): string[] {
  const full = join(root, dir);
  if (!existsSync(full)) return [];
  if (!statSync(full).isDirectory()) return [dir];
  return readdirSync(full, { recursive: true, encoding: 'utf8' })
    .filter((entry) => statSync(join(full, entry)).isFile())
    .map((entry) => posix.join(dir, entry.split(sep).join('/')));
}

/** package.json as Electron reads it: `main` must name the entry. */
export function readManifest(file: string): AppManifest {
  const parsed: unknown = JSON.parse(readFileSync(file, 'utf8'));
  const fields = (parsed ?? {}) as Partial<Record<keyof AppManifest, unknown>>;
  if (typeof fields.name !== 'string' || typeof fields.version !== 'string' || typeof fields.main !== 'string') {
    throw new Error(`app-dir: ${file} lacks a name, version or main`);
  }
  const productName = typeof fields.productName === 'string' ? fields.productName : undefined;
  return { name: fields.name, version: fields.version, main: fields.main, ...(productName === undefined ? {} : { productName }) };
}

function copyInto(root: string, dest: string, path: string): void {
  mkdirSync(dirname(join(dest, path)), { recursive: true });
  copyFileSync(join(root, path), join(dest, path));
}

/**
 * Writes into `dest` what app.asar would hold: package.json and every built
 * file electron-builder.yml's `files` take (dist/main, dist/renderer, no
 * source maps). Returns the manifest, whose `main` is the entry Electron runs.
 */
export async function prepareAppDir(dest: string, options: AppDirOptions = {}): Promise<AppManifest> {
  const root = options.root ?? REPO_ROOT;
  const config = await getConfig(root, null, null);
  const matches = fileMatcher(patternsOf(config));
  const candidates = ['package.json', ...filesUnder(root, 'dist')].filter(matches);
  const manifest = readManifest(join(root, 'package.json'));
  const main = manifest.main;
  if (!candidates.includes(posix.normalize(main))) {
    throw new Error(`app-dir: ${main} (package.json "main") is not built or not packed; run "npm run build"`);
  }
  mkdirSync(dest, { recursive: true });
  for (const path of candidates) copyInto(root, dest, path);
  return manifest;
}

/**
 * Adds electron-builder.yml's `extraResources` (the helper and the CLI, made
 * by `npm run build:helper`) to the app in `dest`, in the resources folder an
 * installed app has on `platform` (common/cli-tools.ts appResourcesDir), which
 * is where the app looks for them (main/install/app-location.ts).
 */
export async function addPackagedResources(dest: string, options: AppDirOptions = {}): Promise<string[]> {
  const root = options.root ?? REPO_ROOT;
  const config = await getConfig(root, null, null);
  const resources = appResourcesDir(dest, options.platform ?? process.platform);
  const written: string[] = [];
  for (const entry of asList(config.extraResources)) {
    const set: FileSet = typeof entry === 'string' ? { from: entry } : entry;
    const names = asList(set.filter);
    if (set.from === undefined || names.length === 0 || names.some((name) => GLOB.test(name) || name.includes('/'))) {
      throw new Error(`app-dir: extraResources entry ${JSON.stringify(set)} must name its files one by one`);
    }
    for (const name of names) {
      const from = join(root, set.from, name);
      if (!existsSync(from)) throw new Error(`app-dir: ${relative(root, from)} is missing; run "npm run build:helper"`);
      const to = join(resources, set.to ?? '', name);
      mkdirSync(dirname(to), { recursive: true });
      copyFileSync(from, to);
      written.push(to);
    }
  }
  return written;
}
