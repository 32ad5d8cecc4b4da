// The app folder the end-to-end suite hands to `_electron.launch`
// (scripts/app-dir.ts), checked where no Electron binary can run: a manifest
// Electron reads, every file the main process loads, bundles that need
// nothing the folder lacks, and the main bundle really loaded under Node with
// only `electron` stubbed. Built from the dist/ that `npm test` just built.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { builtinModules, createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, sep } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appFiles, TRAY_ICONS } from '../main/electron/app-files';
import { APP_ORIGIN, APP_SCHEME, APP_SCHEME_PRIVILEGES, appProtocolHandler } from '../main/electron/app-protocol';
import { packagedResourcesDir } from '../main/install/app-location';
import { appResourcesDir } from '../common/cli-tools';
import { BINDING_FUNCTIONS } from '../native/loader';
import { REPO_ROOT } from '../test/support/constants';
import { prepareAppDir, readManifest, type AppManifest } from './app-dir';

let scratch: string;
let app: string;
let manifest: AppManifest;

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'berth-app-dir-'));
  app = join(scratch, 'app');
  manifest = await prepareAppDir(app);
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** Every file in the folder, as a posix path relative to it. */
function listApp(): string[] {
  return readdirSync(app, { recursive: true, encoding: 'utf8' })
    .filter((entry) => statSync(join(app, entry)).isFile())
    .map((entry) => entry.split(sep).join('/'))
    .sort();
}

/** The modules a bundle requires (esbuild writes each as require("name")). */
function requiredModules(bundle: string): string[] {
  return [...new Set([...readFileSync(bundle, 'utf8').matchAll(/\brequire\("([^"]+)"\)/g)].map((m) => m[1]!))].sort();
}

const isBuiltin = (name: string): boolean => builtinModules.includes(name.replace(/^node:/, ''));

describe('the app folder for _electron.launch (scripts/app-dir.ts)', () => {
  it('has a package.json Electron reads, whose main is the built main bundle', () => {
    const onDisk = readManifest(join(app, 'package.json'));
    expect(onDisk).toEqual(manifest);
    expect(onDisk).toMatchObject({ name: 'berth', productName: 'Berth', main: 'dist/main/electron.js' });
    expect(statSync(join(app, onDisk.main)).isFile()).toBe(true);
  });

  it('holds what electron-builder packs into app.asar and nothing else: the main and renderer bundles, no source maps', () => {
    const files = listApp();
    expect(files).toContain('package.json');
    for (const file of files.filter((f) => f !== 'package.json')) {
      expect(file).toMatch(/^dist\/(main|renderer)\//);
      expect(file).not.toMatch(/\.map$/);
    }
  });

  it('holds every file the main process loads: the preload, the page, each tray icon (1x and 2x, macOS template and coloured) and the addon', () => {
    const files = appFiles(dirname(join(app, manifest.main)));
    const icons = TRAY_ICONS.flatMap((icon) =>
      (['darwin', 'linux'] as const).flatMap((platform) => [files.trayIcon(icon, platform), files.trayIcon(icon, platform).replace(/\.png$/, '@2x.png')]),
    );
    for (const file of [files.preload, files.rendererPage, files.addon, ...icons]) {
      expect([file, existsSync(file) && statSync(file).isFile()]).toEqual([file, true]);
    }
    // The PNGs are PNGs (nativeImage shows nothing for anything else).
    for (const icon of icons) expect(readFileSync(icon).subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
  });

  it('serves, through the berth:// handler, every script, style and icon the page links, with the type Chromium needs', async () => {
    const files = appFiles(dirname(join(app, manifest.main)));
    const page = readFileSync(files.rendererPage, 'utf8');
    const linked = [...page.matchAll(/\b(?:src|href)="\.\/([^"]+)"/g)].map((m) => m[1]!);
    expect(linked.some((path) => path.endsWith('.js'))).toBe(true);
    const handler = appProtocolHandler(files.rendererDir);
    for (const path of ['index.html', ...linked]) {
      const res = await handler(new Request(`${APP_ORIGIN}/${path}`));
      expect([path, res.status]).toEqual([path, 200]);
      expect(Buffer.from(await res.arrayBuffer()).equals(readFileSync(join(files.rendererDir, path)))).toBe(true);
      if (path.endsWith('.js')) expect(res.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    }
    // The module script is what a file:// page could no longer run with its fuse off: it must come as a module from our origin.
    expect(page).toMatch(/<script type="module" crossorigin src="\.\/assets\/[^"]+\.js"><\/script>/);
  });

  it('loads the addon beside the main bundle, with every function the wrapper calls', () => {
    const mod: { exports: Record<string, unknown> } = { exports: {} };
    process.dlopen(mod, appFiles(dirname(join(app, manifest.main))).addon);
    for (const name of BINDING_FUNCTIONS) expect([name, typeof mod.exports[name]]).toEqual([name, 'function']);
  });

  it('has bundles that need nothing the folder lacks: Node built-ins and electron (the preload: electron only, all a sandboxed preload may load)', () => {
    const main = join(app, manifest.main);
    const preload = appFiles(dirname(main)).preload;
    const mainNeeds = requiredModules(main);
    expect(mainNeeds).toContain('electron');
    for (const name of mainNeeds.filter((n) => n !== 'electron')) {
      expect([name, isBuiltin(name)]).toEqual([name, true]);
      expect(createRequire(main).resolve(name)).toBe(name);
    }
    expect(requiredModules(preload)).toEqual(['electron']);
  });
});

/**
 * Runs the app's main bundle under this Node with `electron` (and only it)
 * replaced by a recorder: the bundle's own requires load for real, and its
 * top level runs as Electron would run it. `lock` is what
 * requestSingleInstanceLock answers.
 */
function runMainWithStubbedElectron(lock: boolean): { status: number | null; stderr: string; calls: unknown[][] } {
  const stub = join(scratch, 'electron-stub.cjs');
  writeFileSync(
    stub,
    `'use strict';
const Module = require('node:module');
const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  return request === 'electron' ? __filename : resolve.call(this, request, ...rest);
};
const calls = [];
const app = {
  isPackaged: false,
  requestSingleInstanceLock: () => (calls.push(['app.requestSingleInstanceLock']), ${lock}),
  quit: () => void calls.push(['app.quit']),
  exit: (code) => void calls.push(['app.exit', code]),
  on: (event) => (calls.push(['app.on', event]), app),
  // Never ready: what happens after ready needs a real Electron.
  whenReady: () => (calls.push(['app.whenReady']), new Promise(() => {})),
};
const protocol = {
  registerSchemesAsPrivileged: (schemes) => void calls.push(['protocol.registerSchemesAsPrivileged', schemes]),
  handle: (scheme) => void calls.push(['protocol.handle', scheme]),
};
module.exports = { app, protocol };
process.on('exit', () => process.stdout.write(JSON.stringify(calls)));
`,
  );
  const result = spawnSync(process.execPath, ['--require', stub, join(app, manifest.main)], { encoding: 'utf8', cwd: scratch, env: { PATH: process.env.PATH } });
  return { status: result.status, stderr: result.stderr, calls: JSON.parse(result.stdout || '[]') as unknown[][] };
}

describe('the main bundle, run with electron stubbed', () => {
  it('loads every import, registers berth:// as privileged before ready, and a second instance only quits', () => {
    const run = runMainWithStubbedElectron(false);
    expect(run).toEqual({
      status: 0,
      stderr: '',
      calls: [
        ['protocol.registerSchemesAsPrivileged', [{ scheme: APP_SCHEME, privileges: { ...APP_SCHEME_PRIVILEGES } }]],
        ['app.requestSingleInstanceLock'],
        ['app.quit'],
      ],
    });
  });

  it('the first instance waits for ready and wires its app events', () => {
    const run = runMainWithStubbedElectron(true);
    expect(run).toEqual({
      status: 0,
      stderr: '',
      calls: [
        ['protocol.registerSchemesAsPrivileged', [{ scheme: APP_SCHEME, privileges: { ...APP_SCHEME_PRIVILEGES } }]],
        ['app.requestSingleInstanceLock'],
        ['app.whenReady'],
        ['app.on', 'second-instance'],
        ['app.on', 'window-all-closed'],
        ['app.on', 'will-quit'],
      ],
    });
  });
});

describe('an unpacked app folder run by Electron', () => {
  it('keeps its resources (the helper the install prompt runs) in the folder, where an installed app has them', () => {
    const electron = process as NodeJS.Process & { resourcesPath?: string; defaultApp?: boolean };
    try {
      electron.resourcesPath = '/opt/electron/resources';
      expect(packagedResourcesDir()).toBe('/opt/electron/resources');
      electron.defaultApp = true;
      // This module's bundle sits at <folder>/dist/<name>/ as the app's do; under Vitest the checkout is the folder.
      expect(packagedResourcesDir()).toBe(appResourcesDir(REPO_ROOT));
    } finally {
      Reflect.deleteProperty(process, 'resourcesPath');
      Reflect.deleteProperty(process, 'defaultApp');
    }
  });
});
