'use strict';
/* eslint-disable @typescript-eslint/no-require-imports -- a CommonJS file: electron-builder loads its hooks with require(). */
// electron-builder afterPack hook (electron-builder.yml: afterPack). Runs once
// per packaged platform/arch, after the app and extraResources are in place
// and before signing. It refuses a package whose helper or CLI is missing or
// built for another platform or arch, or that carries a test build's code,
// makes the helper and the CLI one file again (they are one single
// executable), then sets the Electron fuses and reads them back.
const fs = require('node:fs');
const path = require('node:path');
const { flipFuses, getCurrentFuseWire } = require('@electron/fuses');
const { binaryArchitectures, describeBinary } = require('./binary-format.cjs');
const { fuseConfig } = require('./fuses.cjs');

/**
 * The names the package ships the single executable under, outside app.asar,
 * each with the addon beside it (the only place a SEA loads it from): the
 * helper, which the installer runs directly (and the deb's polkit action
 * names), and the CLI, which the CLI links in /usr/local/bin point to
 * (common/cli-tools.ts).
 */
const EXECUTABLES = [
  { dir: 'helper', binary: 'berth-helper', what: 'the helper' },
  { dir: 'bin', binary: 'berth', what: 'the CLI' },
];
const ADDON_FILE = 'berth_native.node';
/** electron-builder's Arch enum (builder-util), by value. */
const ARCH_NAMES = { 0: 'ia32', 1: 'x64', 2: 'armv7l', 3: 'arm64', 4: 'universal' };
/** @electron/fuses' FuseState byte values. */
const FUSE_ENABLED = 0x31;
const FUSE_DISABLED = 0x30;

class PackagingError extends Error {}

/**
 * The mark of a test build's code (main/install/e2e-root-shell.ts: the macOS
 * end-to-end suite's password prompt is `sudo -n`). app.asar stores the
 * bundles as plain text and a single executable its script, so the bytes of
 * the packaged files show it.
 */
const TEST_BUILD_MARKER = 'berth-e2e-root-shell: a test build, never a release';

/** Refuses a package any of whose resources (app.asar, the helper, the CLI) carries test-build code. */
function refuseTestBuild(resources) {
  const marker = Buffer.from(TEST_BUILD_MARKER);
  for (const entry of fs.readdirSync(resources, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const file = path.join(entry.parentPath, entry.name);
    if (fs.readFileSync(file).includes(marker)) {
      throw new PackagingError(`${file} is from a test build (BERTH_E2E_ROOT_SHELL=1, the password prompt replaced by sudo): run "npm run build:helper" without it, then package`);
    }
  }
}

/** Where electron-builder put the Electron binary and the resources folder. */
function layout(context) {
  const { appOutDir, electronPlatformName, packager } = context;
  if (electronPlatformName === 'darwin' || electronPlatformName === 'mas') {
    const app = path.join(appOutDir, `${packager.appInfo.productFilename}.app`);
    return { electron: app, resources: path.join(app, 'Contents', 'Resources'), format: 'mach-o' };
  }
  if (electronPlatformName === 'linux') {
    return { electron: path.join(appOutDir, packager.executableName), resources: path.join(appOutDir, 'resources'), format: 'elf' };
  }
  throw new PackagingError(`Berth is packaged for macOS and Linux only, not ${electronPlatformName}`);
}

/** One single executable and its addon, outside app.asar, runnable on the target. */
function checkExecutable(resources, { dir, binary: name, what }, format, arch) {
  for (const file of [name, ADDON_FILE].map((f) => path.join(resources, dir, f))) {
    if (!fs.existsSync(file)) {
      throw new PackagingError(`${file} is missing: run "npm run build:helper" before electron-builder`);
    }
  }
  const binary = path.join(resources, dir, name);
  if ((fs.statSync(binary).mode & 0o111) === 0) throw new PackagingError(`${binary} is not executable`);
  const found = binaryArchitectures(binary);
  const wanted = arch === 'universal' ? ['x64', 'arm64'] : [arch];
  if (found.format !== format || !wanted.every((a) => found.archs.includes(a))) {
    const target = `${format === 'elf' ? 'linux' : 'darwin'}-${arch}`;
    throw new PackagingError(
      `${binary} is ${describeBinary(found)}, but this package is ${format} ${arch}: build ${what} for it (npm run build:helper -- --target ${target})`,
    );
  }
}

/**
 * The helper and the CLI are one single executable under two names
 * (scripts/build-helper.mjs), but electron-builder copies each
 * extraResources entry on its own: the package would carry ~110 MiB twice.
 * resources/helper/berth-helper and its addon become hard links to
 * resources/bin's again, once their bytes are checked equal. A hard link,
 * not a symlink: the program picks its role by the name of the file the
 * kernel ran (a symlink resolves to "berth", the CLI), and the elevated
 * prompt checks the helper's own path as a plain file nobody but root can
 * change. The deb (fpm, tar) and the AppImage (squashfs) keep hard links.
 */
function linkHelperToCli(resources) {
  const pairs = [
    ['berth-helper', 'berth'],
    [ADDON_FILE, ADDON_FILE],
  ];
  // Every pair is checked before any is replaced: a refusal changes nothing.
  const toLink = [];
  for (const [helperName, cliName] of pairs) {
    const helper = path.join(resources, 'helper', helperName);
    const cli = path.join(resources, 'bin', cliName);
    const [h, c] = [fs.statSync(helper), fs.statSync(cli)];
    if (h.dev === c.dev && h.ino === c.ino) continue;
    if (h.size !== c.size || !fs.readFileSync(helper).equals(fs.readFileSync(cli))) {
      throw new PackagingError(`${helper} and ${cli} differ: they must be one single executable (npm run build:helper makes both)`);
    }
    toLink.push([helper, cli]);
  }
  for (const [helper, cli] of toLink) {
    const temporary = `${helper}.link-${process.pid}`;
    fs.linkSync(cli, temporary);
    fs.renameSync(temporary, helper);
  }
}

/** Fails unless every fuse we set reads back as set. */
async function verifyFuses(electron, config) {
  const wire = await getCurrentFuseWire(electron);
  for (const [index, enabled] of Object.entries(config)) {
    if (!/^\d+$/.test(index)) continue;
    const expected = enabled ? FUSE_ENABLED : FUSE_DISABLED;
    if (wire[index] !== expected) {
      throw new PackagingError(`Electron fuse ${index} reads ${wire[index]} after flipping, not ${expected}: is this Electron's fuse wire newer than @electron/fuses?`);
    }
  }
}

async function afterPack(context) {
  const arch = ARCH_NAMES[context.arch];
  if (arch === undefined) throw new PackagingError(`unknown electron-builder arch ${context.arch}`);
  const { electron, resources, format } = layout(context);
  for (const executable of EXECUTABLES) checkExecutable(resources, executable, format, arch);
  refuseTestBuild(resources);
  linkHelperToCli(resources);
  const config = fuseConfig(context.electronPlatformName, arch);
  await flipFuses(electron, config);
  await verifyFuses(electron, config);
  console.log(`  • berth: helper and CLI checked (${format} ${arch}), one file under both names; Electron fuses set in ${electron}`);
}

module.exports = { afterPack, default: afterPack, PackagingError, TEST_BUILD_MARKER };
