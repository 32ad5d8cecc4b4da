// Makes Berth's single executable: one Node SEA that is both the root helper
// and the `berth` CLI, chosen by the name it runs as (sea/main.ts). Node is
// the pinned official build for the target platform (scripts/node-runtime.mjs),
// never the Node that runs this script. The output directory holds
//   berth               the CLI (electron-builder.yml: resources/bin/berth, where the CLI links point)
//   berth-helper        the helper: a hard link to the same file (resources/helper/berth-helper)
//   berth_native.node   the addon, which a SEA loads only from beside itself
//
//   node scripts/build-helper.mjs                 bundle everything (scripts/build.mjs), then the SEA for this machine
//                                 --target T      linux-x64, linux-arm64, darwin-x64 or darwin-arm64 (default: this machine)
//                                 --from DIR      use an existing bundle: DIR/berth.js + DIR/berth_native.node
//                                 --addon FILE    the addon built for the target (needed for another platform)
//                                 --out DIR       write there instead of dist/sea
//
// For this machine's platform the blob carries V8's code cache and the binary
// is run before it replaces anything. For another platform (a cross-build)
// there is no code cache (it is platform-specific) and nothing can be run:
// the result is checked by its header and its SEA fuse instead. The addon is
// never embedded (nothing is extracted to a temp dir: it runs as root). The
// output directory is replaced only once the new one is complete, so a failed
// build leaves the previous one as it was.
import { execFileSync, spawnSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  linkSync,
  lstatSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { basename, delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';
import binaryFormat from './binary-format.cjs';
import { hostTarget, pinnedNode, RuntimeError, TARGETS } from './node-runtime.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** The CLI's name: resources/bin/berth (common/cli-tools.ts cliToolTarget). */
const CLI_BINARY = 'berth';
/**
 * The helper's name: resources/helper/berth-helper, run by
 * main/install/helper-install.ts and named by the polkit action. It must
 * start with "berth-helper": that is how sea/program.ts dispatches and how
 * helper/install/install.ts knows it runs as the single executable.
 */
const HELPER_BINARY = 'berth-helper';
const BUNDLE = 'berth.js';
const ADDON_FILE = 'berth_native.node';
const OUTPUTS = [CLI_BINARY, HELPER_BINARY, ADDON_FILE];
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
/** Node's documented fuse for SEA blobs (postject flips it in the copy of node). */
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';
/** GNU triplets, for a cross strip (e.g. aarch64-linux-gnu-strip from binutils-aarch64-linux-gnu). */
const GNU_TRIPLETS = { x64: 'x86_64-linux-gnu', arm64: 'aarch64-linux-gnu' };

class BuildError extends Error {}

const log = (line) => console.log(`build:helper: ${line}`);
const mib = (bytes) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

function usage() {
  return `usage: node scripts/build-helper.mjs [--target ${Object.keys(TARGETS).join('|')}] [--from DIR] [--addon FILE] [--out DIR]`;
}

/** Runs a tool quietly; on failure its output is shown with what we were doing. */
function run(what, file, args) {
  const result = spawnSync(file, args, { encoding: 'utf8', cwd: root });
  if (result.error !== undefined) throw new BuildError(`${what}: cannot run ${file}: ${result.error.message}`);
  if (result.status !== 0) {
    throw new BuildError(`${what} failed (${file} exited with ${result.status ?? result.signal}):\n${result.stdout}${result.stderr}`);
  }
  return result.stdout;
}

/** The first of `names` found on PATH, or undefined. */
function onPath(...names) {
  for (const dir of (process.env.PATH ?? '').split(delimiter).filter(Boolean)) {
    for (const name of names) if (existsSync(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

function requireFile(path, hint) {
  if (!existsSync(path)) throw new BuildError(`${path} is missing; ${hint}`);
  if (!statSync(path).isFile()) throw new BuildError(`${path} is not a file; ${hint}`);
}

function postjectCli() {
  try {
    return createRequire(import.meta.url).resolve('postject/dist/cli.js');
  } catch {
    throw new BuildError('postject is missing; run "npm ci" (it is a devDependency)');
  }
}

/** A binary built for another platform than the target stops the build here, not on a user's machine. */
function checkBuiltFor(file, target, what) {
  const spec = TARGETS[target];
  const found = binaryFormat.binaryArchitectures(file);
  if (found.format !== spec.format || !found.archs.includes(spec.arch)) {
    throw new BuildError(`${what} ${file} is ${binaryFormat.describeBinary(found)}, but the target is ${target} (${spec.format} ${spec.arch})`);
  }
}

/** The bundle and the addon for the target. */
function checkInputs(from, addonOption, target, cross) {
  const dir = from ?? join(root, 'dist/sea-bundle');
  const hint = from === undefined ? 'scripts/build.mjs did not produce it' : `--from must hold ${BUNDLE} and ${ADDON_FILE} (run "npm run build")`;
  const bundle = join(dir, BUNDLE);
  requireFile(bundle, hint);
  if (addonOption === undefined && cross) {
    throw new BuildError(`the native addon must be built for ${target}: pass --addon FILE (built by "npm ci" on a ${target} machine)`);
  }
  const addon = addonOption ?? join(dir, ADDON_FILE);
  requireFile(addon, addonOption === undefined ? hint : '--addon must name the built addon');
  checkBuiltFor(addon, target, 'the addon');
  return { bundle, addon };
}

/** Replaces `out` with the finished `staging` directory; the old one goes only after the new one is in place. */
function replaceDirectory(staging, out) {
  const old = `${out}.old-${process.pid}`;
  const hadOld = existsSync(out);
  if (hadOld) renameSync(out, old);
  try {
    renameSync(staging, out);
  } catch (error) {
    if (hadOld) renameSync(old, out);
    throw error;
  }
  if (hadOld) rmSync(old, { recursive: true, force: true });
}

/** The output is replaced whole, so it may only be new, empty, or an earlier build (never, say, --out /tmp). */
function checkOutput(out) {
  // The parent must exist already: a refused build creates nothing.
  if (!existsSync(dirname(out))) throw new BuildError(`${dirname(out)} does not exist; create it or choose another --out`);
  if (!existsSync(out)) return;
  if (!lstatSync(out).isDirectory()) throw new BuildError(`${out} exists and is not a directory; choose another --out`);
  const foreign = readdirSync(out).filter((name) => !OUTPUTS.includes(name));
  if (foreign.length > 0) {
    throw new BuildError(`${out} holds files this build did not make (${foreign.join(', ')}); choose an empty or new --out`);
  }
}

/**
 * Linux: drops the symbol table and debug sections the official build keeps
 * (~30 MiB). Done before the blob goes in, so nothing strips the blob; the
 * dynamic symbols addons link against stay. Skipped with a note for another
 * architecture when no strip for it is installed.
 */
function stripLinux(binary, target) {
  const arch = TARGETS[target].arch;
  const strip = arch === process.arch && process.platform === 'linux' ? onPath('strip') : onPath(`${GNU_TRIPLETS[arch]}-strip`, 'llvm-strip');
  if (strip === undefined) {
    log(`not stripped: no strip for ${arch} here (install binutils-${GNU_TRIPLETS[arch]} to save ~30 MiB)`);
    return;
  }
  const before = statSync(binary).size;
  run('strip', strip, ['--strip-all', binary]);
  log(`stripped symbols and debug info (${mib(before)} -> ${mib(statSync(binary).size)})`);
}

/** What the single executable must answer to --version under each name. */
function expectedVersions(nodeVersion) {
  return {
    [CLI_BINARY]: `berth ${pkg.version} (Node ${nodeVersion})`,
    [HELPER_BINARY]: `berth-helper ${pkg.version} (Node ${nodeVersion})`,
  };
}

/** Runs both names: each must start and be this version of Berth on the pinned Node. */
function checkRuns(staging, nodeVersion, bundle) {
  for (const [name, expected] of Object.entries(expectedVersions(nodeVersion))) {
    let version;
    try {
      version = execFileSync(join(staging, name), ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
    } catch (error) {
      throw new BuildError(`the built ${name} does not start: ${error.stderr || error.message}`);
    }
    if (version !== expected) {
      throw new BuildError(`the built ${name} reports "${version}", not "${expected}": ${bundle} is stale; run "npm run build"`);
    }
  }
}

/** A cross-build cannot run: its header must be the target's and its SEA fuse flipped. */
function checkCrossBuilt(binary, target) {
  checkBuiltFor(binary, target, 'the built executable');
  const bytes = readFileSync(binary);
  if (!bytes.includes(`${SEA_FUSE}:1`)) throw new BuildError(`${binary} has no SEA blob (its fuse is not set)`);
}

function buildSea({ target, cross, inputs, out }) {
  const postject = postjectCli();
  const node = pinnedNode(target, { log });
  // The blob is prepared by the same Node version it goes into: for another platform, this machine's pinned build.
  const preparer = cross ? pinnedNode(hostTarget(), { log }) : node;
  log(`Node ${node.version} for ${target}: ${node.source}`);
  // Staged beside the output (same file system, so the final rename is atomic).
  const staging = mkdtempSync(join(dirname(out), `.${basename(out)}.partial-`));
  try {
    const blob = join(staging, 'sea-prep.blob');
    const config = join(staging, 'sea-config.json');
    writeFileSync(
      config,
      JSON.stringify({
        main: inputs.bundle,
        output: blob,
        // The helper's stderr is its log: no experimental-feature banner in it.
        disableExperimentalSEAWarning: true,
        // No snapshot: the entry reads its own name, argv and the environment at start,
        // and a snapshot would freeze whatever ran at build time (measured: docs/BENCHMARKS.md).
        useSnapshot: false,
        // Compiled code cached in the blob (platform-specific, so not for another platform).
        useCodeCache: !cross,
      }),
    );
    log(`preparing the SEA blob from ${inputs.bundle}${cross ? ' (no code cache: another platform)' : ' with its code cache'}`);
    run('node --experimental-sea-config', preparer.path, ['--experimental-sea-config', config]);

    const binary = join(staging, CLI_BINARY);
    copyFileSync(node.path, binary);
    chmodSync(binary, 0o755);
    if (TARGETS[target].format === 'elf') stripLinux(binary, target);
    const injectArgs = [postject, binary, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', SEA_FUSE];
    if (TARGETS[target].format === 'mach-o') {
      injectArgs.push('--macho-segment-name', 'NODE_SEA');
      if (process.platform === 'darwin') {
        // The official build is signed; Node's documented step before injecting: drop the signature.
        run('removing the Node signature', 'codesign', ['--remove-signature', binary]);
      } else {
        log('postject drops the official signature itself; sign the result on macOS (electron-builder does)');
      }
    }
    log(`injecting it into ${binary}`);
    run('postject', process.execPath, injectArgs);
    if (TARGETS[target].format === 'mach-o' && process.platform === 'darwin') {
      // Apple silicon runs no unsigned code: an ad-hoc signature until the release signing
      // (electron-builder signs it with Developer ID and build/entitlements.helper.plist).
      run('ad-hoc signing', 'codesign', ['--sign', '-', '--force', binary]);
    }
    rmSync(blob);
    rmSync(config);
    // One file, two names: the helper is a hard link (a symlink would resolve to "berth" and run the CLI).
    linkSync(binary, join(staging, HELPER_BINARY));
    copyFileSync(inputs.addon, join(staging, ADDON_FILE));
    chmodSync(join(staging, ADDON_FILE), 0o755);
    chmodSync(staging, 0o755);

    if (cross) checkCrossBuilt(binary, target);
    else checkRuns(staging, node.version, inputs.bundle);
    replaceDirectory(staging, out);
    return { version: node.version, size: statSync(join(out, CLI_BINARY)).size };
  } catch (error) {
    rmSync(staging, { recursive: true, force: true });
    throw error;
  }
}

function main(argv) {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: { from: { type: 'string' }, out: { type: 'string' }, target: { type: 'string' }, addon: { type: 'string' } },
    }));
  } catch (error) {
    console.error(`build:helper: ${error.message}\n${usage()}`);
    return 64;
  }
  for (const name of ['from', 'out', 'target', 'addon']) {
    if (values[name] === '') {
      console.error(`build:helper: --${name} must not be empty\n${usage()}`);
      return 64;
    }
  }
  const target = values.target ?? hostTarget();
  if (!Object.hasOwn(TARGETS, target)) {
    console.error(`build:helper: ${values.target === undefined ? `this machine (${target}) is not a` : `--target must be a`} platform Berth ships for: ${Object.keys(TARGETS).join(', ')}\n${usage()}`);
    return 64;
  }
  const cross = target !== hostTarget();
  const from = values.from === undefined ? undefined : resolve(values.from);
  const out = resolve(values.out ?? join(root, 'dist/sea'));
  try {
    checkOutput(out);
    if (from === undefined) {
      log('bundling sea/main.ts and the other entries (scripts/build.mjs)');
      run('scripts/build.mjs', process.execPath, [join(root, 'scripts/build.mjs')]);
    }
    const inputs = checkInputs(from, values.addon === undefined ? undefined : resolve(values.addon), target, cross);
    const { version, size } = buildSea({ target, cross, inputs, out });
    const checked = cross ? `built for ${target}, not run here` : `reports "${expectedVersions(version)[CLI_BINARY]}"`;
    log(`${join(out, CLI_BINARY)} and ${HELPER_BINARY} (one file, ${mib(size)}, ${checked}) with ${ADDON_FILE} beside it`);
    return 0;
  } catch (error) {
    if (!(error instanceof BuildError) && !(error instanceof RuntimeError)) throw error;
    console.error(`build:helper: ${error.message}`);
    return 1;
  }
}

process.exitCode = main(process.argv.slice(2));
