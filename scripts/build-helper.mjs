// Makes the root helper a Node single executable application (SEA):
// dist/helper-sea/berth-helper with the native addon beside it; with
// --target cli, the same for the `berth` CLI: dist/cli-sea/berth (the packaged
// app's resources/bin/berth, which the CLI links in /usr/local/bin point to).
//
//   node scripts/build-helper.mjs                 bundle everything (scripts/build.mjs), then the SEA
//   node scripts/build-helper.mjs --from DIR      use an existing bundle: DIR/berth-helper.js + DIR/berth_native.node
//                                 --out DIR       write there instead of dist/helper-sea
//                                 --target cli    the CLI instead (DIR/berth.js; dist/cli-sea)
//
// The addon is never embedded: native/loader.ts loads it, in a SEA, only from
// the file beside the binary (nothing is extracted to a temp dir; it runs as
// root). The output directory is replaced only once the new binary is
// complete, so a failed build leaves the previous one as it was.
import { execFileSync, spawnSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  lstatSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * What the packaged app ships (electron-builder.yml extraResources:
 * dist/helper-sea/ -> resources/helper/, run by main/install/helper-install.ts).
 * The name must start with "berth-helper": that is how the installer knows it
 * runs as a SEA (helper/install/install.ts).
 */
const TARGETS = {
  helper: { binary: 'berth-helper', bundle: 'berth-helper.js', from: 'dist/helper', out: 'dist/helper-sea' },
  // electron-builder.yml: dist/cli-sea/ -> resources/bin/ (common/cli-tools.ts cliToolTarget).
  cli: { binary: 'berth', bundle: 'berth.js', from: 'dist/cli', out: 'dist/cli-sea' },
};
const ADDON_FILE = 'berth_native.node';
const expectedVersion = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version;
/** Node's documented fuse for SEA blobs (postject flips it in the copy of node). */
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

class BuildError extends Error {}

const log = (line) => console.log(`build:helper: ${line}`);
const mib = (bytes) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

function usage() {
  return 'usage: node scripts/build-helper.mjs [--target helper|cli] [--from DIR] [--out DIR]';
}

/** Runs a tool quietly; on failure its output is shown with what we were doing. */
function run(what, file, args) {
  const result = spawnSync(file, args, { encoding: 'utf8', cwd: root });
  if (result.error !== undefined) throw new BuildError(`${what}: cannot run ${file}: ${result.error.message}`);
  if (result.status !== 0) {
    throw new BuildError(`${what} failed (${file} exited with ${result.status ?? result.signal}):\n${result.stdout}${result.stderr}`);
  }
}

function requireFile(path, hint) {
  if (!existsSync(path)) throw new BuildError(`${path} is missing; ${hint}`);
  if (!statSync(path).isFile()) throw new BuildError(`${path} is not a file; ${hint}`);
}

/** The tools, checked before anything is built or written. */
function checkTools() {
  const major = Number(process.versions.node.split('.')[0]);
  // --experimental-sea-config and node:sea (which native/loader.ts asks) need Node 20.
  if (major < 20) throw new BuildError(`Node ${process.versions.node} cannot make a single executable; use Node 20 or newer`);
  if (process.platform !== 'linux' && process.platform !== 'darwin') {
    throw new BuildError(`the helper is built for Linux and macOS only, not ${process.platform}`);
  }
  try {
    return createRequire(import.meta.url).resolve('postject/dist/cli.js');
  } catch {
    throw new BuildError('postject is missing; run "npm ci" (it is a devDependency)');
  }
}

/** The bundle and the addon beside it. */
function checkInputs(target, from) {
  const dir = from ?? join(root, target.from);
  const hint = from === undefined ? 'scripts/build.mjs did not produce it' : `--from must hold ${target.bundle} and ${ADDON_FILE} (run "npm run build")`;
  const bundle = join(dir, target.bundle);
  const addon = join(dir, ADDON_FILE);
  requireFile(bundle, hint);
  requireFile(addon, hint);
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
function checkOutput(target, out) {
  // The parent must exist already: a refused build creates nothing.
  if (!existsSync(dirname(out))) throw new BuildError(`${dirname(out)} does not exist; create it or choose another --out`);
  if (!existsSync(out)) return;
  if (!lstatSync(out).isDirectory()) throw new BuildError(`${out} exists and is not a directory; choose another --out`);
  const foreign = readdirSync(out).filter((name) => name !== target.binary && name !== ADDON_FILE);
  if (foreign.length > 0) {
    throw new BuildError(`${out} holds files this build did not make (${foreign.join(', ')}); choose an empty or new --out`);
  }
}

function buildSea(target, { bundle, addon }, postject, out) {
  // Staged beside the output (same file system, so the final rename is atomic).
  const staging = mkdtempSync(join(dirname(out), `.${basename(out)}.partial-`));
  try {
    const blob = join(staging, 'sea-prep.blob');
    const config = join(staging, 'sea-config.json');
    writeFileSync(
      config,
      JSON.stringify({
        main: bundle,
        output: blob,
        // The helper's stderr is its log: no experimental-feature banner in it.
        disableExperimentalSEAWarning: true,
        // No snapshot: the bundle reads argv and the environment at start.
        useSnapshot: false,
        // Compiled code cached in the blob: a faster start for a short-lived installer run.
        useCodeCache: true,
      }),
    );
    log(`preparing the SEA blob from ${bundle}`);
    run('node --experimental-sea-config', process.execPath, ['--experimental-sea-config', config]);

    const binary = join(staging, target.binary);
    log(`injecting it into a copy of node ${process.version} (${process.execPath})`);
    copyFileSync(process.execPath, binary);
    chmodSync(binary, 0o755);
    const injectArgs = [postject, binary, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', SEA_FUSE];
    if (process.platform === 'darwin') {
      // postject cannot edit a signed Mach-O; electron-builder signs the result with build/entitlements.helper.plist.
      run('removing the node signature', 'codesign', ['--remove-signature', binary]);
      injectArgs.push('--macho-segment-name', 'NODE_SEA');
    }
    run('postject', process.execPath, injectArgs);
    if (process.platform === 'darwin') {
      // Apple silicon runs no unsigned code: an ad-hoc signature until the release signing.
      run('ad-hoc signing', 'codesign', ['--sign', '-', '--force', binary]);
    }
    rmSync(blob);
    rmSync(config);

    copyFileSync(addon, join(staging, ADDON_FILE));
    chmodSync(join(staging, ADDON_FILE), 0o755);
    chmodSync(staging, 0o755);

    // The binary must start, and be this version, before it replaces anything.
    let version;
    try {
      version = execFileSync(binary, ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
    } catch (error) {
      throw new BuildError(`the built ${target.binary} does not start: ${error.stderr || error.message}`);
    }
    if (version !== expectedVersion) {
      throw new BuildError(`the built ${target.binary} reports version ${version}, package.json says ${expectedVersion}: ${bundle} is stale; run "npm run build"`);
    }
    replaceDirectory(staging, out);
    return { version, size: statSync(join(out, target.binary)).size };
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
      options: { from: { type: 'string' }, out: { type: 'string' }, target: { type: 'string', default: 'helper' } },
    }));
  } catch (error) {
    console.error(`build:helper: ${error.message}\n${usage()}`);
    return 64;
  }
  const target = Object.hasOwn(TARGETS, values.target) ? TARGETS[values.target] : undefined;
  if (target === undefined) {
    console.error(`build:helper: --target must be helper or cli (got "${values.target}")\n${usage()}`);
    return 64;
  }
  for (const name of ['from', 'out']) {
    if (values[name] === '') {
      console.error(`build:helper: --${name} must not be empty\n${usage()}`);
      return 64;
    }
  }
  const from = values.from === undefined ? undefined : resolve(values.from);
  const out = resolve(values.out ?? join(root, target.out));
  try {
    const postject = checkTools();
    checkOutput(target, out);
    if (from === undefined) {
      log('bundling helper/bin.ts and the other entries (scripts/build.mjs)');
      run('scripts/build.mjs', process.execPath, [join(root, 'scripts/build.mjs')]);
    }
    const { version, size } = buildSea(target, checkInputs(target, from), postject, out);
    log(`${join(out, target.binary)} (${mib(size)}, reports ${version}) with ${ADDON_FILE} beside it`);
    return 0;
  } catch (error) {
    if (!(error instanceof BuildError)) throw error;
    console.error(`build:helper: ${error.message}`);
    return 1;
  }
}

process.exitCode = main(process.argv.slice(2));
