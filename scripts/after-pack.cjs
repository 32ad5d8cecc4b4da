'use strict';
/* eslint-disable @typescript-eslint/no-require-imports -- a CommonJS file: electron-builder loads its hooks with require(). */
// electron-builder afterPack hook (electron-builder.yml: afterPack). Runs once
// per packaged platform/arch, after the app and extraResources are in place
// and before signing. It refuses a package whose helper or CLI is missing or
// built for another platform or arch (each SEA is a copy of the building
// machine's node) or that carries a test build's code, then sets the
// Electron fuses and reads them back.
const fs = require('node:fs');
const path = require('node:path');
const { flipFuses, getCurrentFuseWire } = require('@electron/fuses');
const { fuseConfig } = require('./fuses.cjs');

/**
 * The single executables the package ships outside app.asar, each with the
 * addon beside it (the only place a SEA loads it from): the helper, which the
 * installer runs directly (and the deb's polkit action names), and the CLI,
 * which the CLI links in /usr/local/bin point to (common/cli-tools.ts).
 */
const EXECUTABLES = [
  { dir: 'helper', binary: 'berth-helper', what: 'the helper' },
  { dir: 'bin', binary: 'berth', what: 'the CLI' },
];
const ADDON_FILE = 'berth_native.node';
/** electron-builder's Arch enum (builder-util), by value. */
const ARCH_NAMES = { 0: 'ia32', 1: 'x64', 2: 'armv7l', 3: 'arm64', 4: 'universal' };
/** ELF e_machine values. */
const ELF_MACHINES = { 0x03: 'ia32', 0x28: 'armv7l', 0x3e: 'x64', 0xb7: 'arm64' };
/** Mach-O cputype values. */
const MACHO_CPUS = { 0x01000007: 'x64', 0x0100000c: 'arm64' };
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

/** 'elf' or 'mach-o' and the architectures of an executable, from its header. */
function binaryArchitectures(file) {
  const fd = fs.openSync(file, 'r');
  try {
    const header = Buffer.alloc(4096);
    const length = fs.readSync(fd, header, 0, header.length, 0);
    if (length >= 20 && header.readUInt32BE(0) === 0x7f454c46) {
      const little = header[5] === 1;
      const machine = little ? header.readUInt16LE(18) : header.readUInt16BE(18);
      return { format: 'elf', archs: [ELF_MACHINES[machine] ?? `machine 0x${machine.toString(16)}`] };
    }
    if (length >= 8 && header.readUInt32LE(0) === 0xfeedfacf) {
      const cpu = header.readUInt32LE(4);
      return { format: 'mach-o', archs: [MACHO_CPUS[cpu] ?? `cpu 0x${cpu.toString(16)}`] };
    }
    if (length >= 8 && header.readUInt32BE(0) === 0xcafebabe) {
      // A universal (fat) Mach-O: one 20-byte record per slice.
      const count = Math.min(header.readUInt32BE(4), Math.floor((length - 8) / 20));
      const archs = [];
      for (let i = 0; i < count; i++) {
        const cpu = header.readUInt32BE(8 + i * 20);
        archs.push(MACHO_CPUS[cpu] ?? `cpu 0x${cpu.toString(16)}`);
      }
      return { format: 'mach-o', archs };
    }
    return { format: 'unknown', archs: [] };
  } finally {
    fs.closeSync(fd);
  }
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
    const kind = found.format === 'unknown' ? 'not an executable' : `${found.format} ${found.archs.join('+')}`;
    throw new PackagingError(
      `${binary} is ${kind}, but this package is ${format} ${arch}: build ${what} (npm run build:helper) on a ${arch} machine of the target platform`,
    );
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
  const config = fuseConfig(context.electronPlatformName, arch);
  await flipFuses(electron, config);
  await verifyFuses(electron, config);
  console.log(`  • berth: helper and CLI checked (${format} ${arch}); Electron fuses set in ${electron}`);
}

module.exports = { afterPack, default: afterPack, PackagingError, TEST_BUILD_MARKER };
