// Bundles every Node-side entry with esbuild and puts the native addon beside
// each bundle (that is where native/index.ts looks first, as the SEA does).
import { build } from 'esbuild';
import { copyFileSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeTrayIcons } from './tray-icons.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const addon = join(root, 'native/build/Release/berth_native.node');

/** [entry, output, extra esbuild options] */
const entries = [
  ['helper/bin.ts', 'dist/helper/berth-helper.js', {}],
  ['main/cli/bin.ts', 'dist/cli/berth.js', { banner: { js: '#!/usr/bin/env node' } }],
  // The single executable's one script: helper and CLI, chosen by name (sea/main.ts; scripts/build-helper.mjs).
  ['sea/main.ts', 'dist/sea-bundle/berth.js', {}],
  ['main/electron/main.ts', 'dist/main/electron.js', { external: ['electron'] }],
  ['main/electron/preload.ts', 'dist/main/preload.js', { external: ['electron'] }],
  ['bench/helper-rtt.ts', 'dist/bench/helper-rtt.js', {}],
  ['bench/forwarder.ts', 'dist/bench/forwarder.js', {}],
  ['bench/app-probe.ts', 'dist/bench/app-probe.js', {}],
  ['bench/udp-load.ts', 'dist/bench/udp-load.js', {}],
  ['bench/idle.ts', 'dist/bench/idle.js', {}],
];

// The Apple team that signs a release, baked into every bundle: on macOS the
// app checks the helper's signature against it before running it as root
// (main/install/code-signature.ts). Empty for an unsigned build.
const macTeamId = process.env.BERTH_MAC_TEAM_ID ?? '';
if (macTeamId !== '' && !/^[A-Z0-9]{10}$/.test(macTeamId)) {
  console.error(`build: BERTH_MAC_TEAM_ID "${macTeamId}" is not an Apple team identifier (ten capital letters and digits)`);
  process.exit(1);
}

// A test build for the macOS end-to-end suite (e2e/run-macos.sh): the password
// prompt becomes the runner's `sudo -n` (main/install/e2e-root-shell.ts).
// scripts/after-pack.cjs refuses to package such a build.
const e2eRootShell = process.env.BERTH_E2E_ROOT_SHELL === '1';
if (e2eRootShell) console.log('build: TEST BUILD (BERTH_E2E_ROOT_SHELL=1): the macOS password prompt is sudo -n; never package it');

if (!existsSync(addon)) {
  console.error(`build: ${addon} is missing; run "npm ci" (it builds the native addon with node-gyp)`);
  process.exit(1);
}

rmSync(join(root, 'dist'), { recursive: true, force: true });
await Promise.all(
  entries.map(([entry, outfile, extra]) =>
    build({
      entryPoints: [join(root, entry)],
      outfile: join(root, outfile),
      bundle: true,
      platform: 'node',
      format: 'cjs',
      // Electron 45 runs Node 24; the single executable, the pinned Node (package.json); a checkout, Node >= 22.12.
      target: 'node22.12',
      sourcemap: 'linked',
      legalComments: 'none',
      logLevel: 'warning',
      define: { __BERTH_MAC_TEAM_ID__: JSON.stringify(macTeamId), __BERTH_E2E_ROOT_SHELL__: JSON.stringify(e2eRootShell) },
      ...extra,
    }),
  ),
);
for (const dir of new Set(entries.map(([, outfile]) => dirname(join(root, outfile))))) {
  mkdirSync(dir, { recursive: true });
  copyFileSync(addon, join(dir, 'berth_native.node'));
}
writeTrayIcons(join(root, 'dist/main/icons'));
console.log(`build: ${entries.length} bundles in dist/`);

// The renderer: Vite builds renderer/ into dist/renderer (its config says how).
const { build: viteBuild } = await import('vite');
await viteBuild({ configFile: join(root, 'renderer/vite.config.mts'), logLevel: 'warn' });
console.log('build: renderer in dist/renderer/');
