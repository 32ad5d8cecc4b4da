// electron-builder.yml, checked offline: electron-builder's own loader and
// schema validation, Berth's packaging invariants, and a real
// `electron-builder --linux dir` run. Electron cannot be downloaded here, so
// that run packs a stand-in Electron distribution (a binary carrying the fuse
// wire); everything else (asar, asarUnpack, extraResources, the afterPack
// hook) is electron-builder's own.
import { execFileSync, spawnSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listPackage } from '@electron/asar';
import { FuseV1Options, getCurrentFuseWire } from '@electron/fuses';
import type { Configuration, FileSet } from 'app-builder-lib';
import { getConfig, validateConfiguration } from 'app-builder-lib/out/util/config/config';
import { resolveFunction } from 'app-builder-lib/out/util/resolve';
import { DebugLogger } from 'builder-util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliToolTarget } from '../common/cli-tools';
import { bundledHelperCommand } from '../main/install/helper-install';
import { REPO_ROOT } from '../test/support/constants';
import { FUSES } from './fuses.cjs';
import { writeTrayIcons } from './tray-icons.mjs';
import { TRAY_ICONS } from '../main/electron/app-files';

const POLICY_FILE = 'build/linux/dev.berth.helper.policy';
const HELPER_FILES = ['berth-helper', 'berth_native.node'];
const CLI_FILES = ['berth', 'berth_native.node'];

let config: Configuration;
beforeAll(async () => {
  // Exactly what electron-builder reads: electron-builder.yml merged with package.json.
  config = await getConfig(REPO_ROOT, null, null);
});

/** The key → boolean pairs of an entitlements plist (every value must be a boolean). */
function plistEntries(file: string): Record<string, boolean> {
  const xml = readFileSync(file, 'utf8').replace(/<!--[\s\S]*?-->/g, '');
  const entries = [...xml.matchAll(/<key>([^<]+)<\/key>\s*<(true|false)\s*\/>/g)];
  if (entries.length !== (xml.match(/<key>/g) ?? []).length) throw new Error(`${file} has a non-boolean entitlement`);
  return Object.fromEntries(entries.map((m) => [m[1]!, m[2] === 'true']));
}

function asFileSets(value: Configuration['extraResources']): FileSet[] {
  const list = value == null ? [] : Array.isArray(value) ? value : [value];
  return list.map((entry) => (typeof entry === 'string' ? { from: entry } : entry));
}

function filePatterns(value: Configuration['files']): string[] {
  const list = value == null ? [] : Array.isArray(value) ? value : [value];
  return list.flatMap((entry) => (typeof entry === 'string' ? [entry] : [entry.filter ?? []].flat()));
}

function fpmMappings(): Array<{ source: string; target: string }> {
  return (config.deb?.fpm ?? []).map((arg) => {
    const [source, target, ...rest] = arg.split('=');
    if (source === undefined || target === undefined || rest.length > 0) throw new Error(`deb.fpm "${arg}" is not SOURCE=TARGET`);
    return { source, target };
  });
}

describe('electron-builder.yml against electron-builder 26 itself', () => {
  it("passes electron-builder's schema check (scheme.json through its own ajv validator)", async () => {
    await expect(validateConfiguration(structuredClone(config), new DebugLogger(false))).resolves.toBeUndefined();
  });

  it('the schema check is live: a misplaced key is refused with its message', async () => {
    const broken = { ...structuredClone(config), LSUIElement: true } as Configuration;
    await expect(validateConfiguration(broken, new DebugLogger(false))).rejects.toThrow("configuration has an unknown property 'LSUIElement'");
  });

  it("loads the afterPack hook the way electron-builder does, as scripts/after-pack.cjs's afterPack", async () => {
    expect(config.afterPack).toBe('./scripts/after-pack.cjs');
    const hook = await resolveFunction<unknown>(undefined, config.afterPack, 'afterPack', REPO_ROOT);
    const { afterPack } = createRequire(import.meta.url)('./after-pack.cjs') as { afterPack: unknown };
    expect(typeof hook).toBe('function');
    expect(hook).toBe(afterPack);
  });
});

describe("Berth's packaging invariants", () => {
  it('packs the app into app.asar, unpacking only the addon the main process loads', () => {
    expect(config.asar).toBe(true);
    expect(config.asarUnpack).toEqual(['dist/main/berth_native.node']);
    const patterns = filePatterns(config.files);
    // Only the Electron bundles and the manifest go in: never the helper, source maps or node_modules.
    for (const pattern of patterns.filter((p) => !p.startsWith('!'))) {
      expect(pattern).toMatch(/^(dist\/main\/\*\*|dist\/renderer\/\*\*|package\.json)$/);
    }
    expect(patterns).toContain('!**/*.map');
    expect(patterns).toContain('!node_modules/**');
  });

  it('ships the single executable as the helper and as the CLI, with their addon, outside app.asar, where the installer and the CLI links find them', () => {
    expect(asFileSets(config.extraResources)).toEqual([
      { from: 'dist/sea/', to: 'helper/', filter: HELPER_FILES },
      { from: 'dist/sea/', to: 'bin/', filter: CLI_FILES },
    ]);
  });

  it('macOS: dmg and zip, no dock icon, hardened runtime with allow-jit only for the app and everything nested', () => {
    const mac = config.mac!;
    expect(mac.target).toEqual(['dmg', 'zip']);
    expect(mac.hardenedRuntime).toBe(true);
    expect(mac.extendInfo).toEqual({ LSUIElement: true });
    expect(mac.entitlements).toBe('build/entitlements.mac.plist');
    expect(mac.entitlementsInherit).toBe('build/entitlements.helper.plist');
    for (const file of [mac.entitlements!, mac.entitlementsInherit!]) {
      execFileSync('xmllint', ['--noout', '--nonet', join(REPO_ROOT, file)], { stdio: 'pipe' });
      expect(plistEntries(join(REPO_ROOT, file)), file).toEqual({ 'com.apple.security.cs.allow-jit': true });
    }
  });

  it('Linux: AppImage and deb, the deb installing the polkit action where polkit reads actions', () => {
    expect(config.linux?.target).toEqual(['AppImage', 'deb']);
    expect(fpmMappings()).toEqual([{ source: POLICY_FILE, target: '/usr/share/polkit-1/actions/dev.berth.helper.policy' }]);
  });

  it("the polkit action names the helper where the deb puts it (/opt/<productName>/resources/helper/)", () => {
    const policy = readFileSync(join(REPO_ROOT, POLICY_FILE), 'utf8');
    const annotated = /<annotate key="org\.freedesktop\.policykit\.exec\.path">([^<]+)<\/annotate>/.exec(policy)?.[1];
    const [helper] = asFileSets(config.extraResources);
    expect(annotated).toBe(`/opt/${config.productName}/resources/${helper!.to}berth-helper`);
  });

  it('every file the config names exists', () => {
    const referenced = [
      config.directories!.buildResources!,
      config.mac!.entitlements!,
      config.mac!.entitlementsInherit!,
      config.afterPack as string,
      ...fpmMappings().map((m) => m.source),
    ];
    for (const file of referenced) expect(existsSync(join(REPO_ROOT, file)), file).toBe(true);
  });
});

describe('electron-builder --linux dir, offline, with a stand-in Electron', () => {
  let scratch: string;
  let unpacked: string;
  let result: { status: number | null; output: string };
  const stubAddon = join(REPO_ROOT, 'native/build/Release/berth_native.node');

  beforeAll(() => {
    scratch = mkdtempSync(join(tmpdir(), 'berth-eb-'));
    const project = join(scratch, 'project');
    // The project as the build leaves it: the real config, hooks and build resources; small stand-in bundles.
    mkdirSync(join(project, 'scripts'), { recursive: true });
    for (const file of ['electron-builder.yml', 'package.json', 'scripts/after-pack.cjs', 'scripts/binary-format.cjs', 'scripts/fuses.cjs']) {
      copyFileSync(join(REPO_ROOT, file), join(project, file));
    }
    cpSync(join(REPO_ROOT, 'build'), join(project, 'build'), { recursive: true });
    symlinkSync(join(REPO_ROOT, 'node_modules'), join(project, 'node_modules'));
    const dist = join(project, 'dist');
    mkdirSync(join(dist, 'main'), { recursive: true });
    mkdirSync(join(dist, 'renderer'));
    mkdirSync(join(dist, 'sea'));
    mkdirSync(join(dist, 'helper'));
    writeFileSync(join(dist, 'main/electron.js'), '// main bundle\n');
    writeFileSync(join(dist, 'main/electron.js.map'), '{}');
    writeFileSync(join(dist, 'main/preload.js'), '// preload bundle\n');
    // The tray icons as the build draws them: the macOS templates and the coloured ones, 1x and 2x.
    writeTrayIcons(join(dist, 'main/icons'));
    copyFileSync(stubAddon, join(dist, 'main/berth_native.node'));
    writeFileSync(join(dist, 'renderer/index.html'), '<!doctype html>');
    // This machine's node stands in for the SEA (same format and arch), under both names as
    // scripts/build-helper.mjs leaves them (copies here: the hook must link them either way);
    // a stray file must not ship.
    copyFileSync(process.execPath, join(dist, 'sea/berth'));
    copyFileSync(process.execPath, join(dist, 'sea/berth-helper'));
    chmodSync(join(dist, 'sea/berth'), 0o755);
    chmodSync(join(dist, 'sea/berth-helper'), 0o755);
    copyFileSync(stubAddon, join(dist, 'sea/berth_native.node'));
    writeFileSync(join(dist, 'sea/sea-prep.blob'), 'stray');
    writeFileSync(join(dist, 'helper/berth-helper.js'), '// the JS bundle: not what ships');

    const electronDist = join(scratch, 'electron-dist');
    mkdirSync(join(electronDist, 'resources'), { recursive: true });
    const wire = Buffer.concat([Buffer.from('dL7pKGdnNz796PbbjQWNKmHXBZaB9tsX'), Buffer.from([1, 9]), Buffer.from('101100011')]);
    writeFileSync(join(electronDist, 'electron'), Buffer.concat([Buffer.alloc(256, 0xcc), wire, Buffer.alloc(256, 0xcc)]), { mode: 0o755 });

    const out = join(scratch, 'release');
    const run = spawnSync(
      process.execPath,
      [
        join(REPO_ROOT, 'node_modules/electron-builder/cli.js'),
        '--linux',
        'dir',
        `--${process.arch}`,
        `-c.electronDist=${electronDist}`,
        // No native dependencies to rebuild (the addon is built by node-gyp), and no network for it.
        '-c.npmRebuild=false',
        `-c.directories.output=${out}`,
      ],
      { cwd: project, encoding: 'utf8', timeout: 120_000 },
    );
    result = { status: run.status, output: `${run.stdout}${run.stderr}` };
    unpacked = join(out, 'linux-unpacked');
  }, 150_000);

  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it('packages without the network, running our afterPack hook', () => {
    expect(result.status, result.output).toBe(0);
    expect(result.output).toContain(`berth: helper and CLI checked (elf ${process.arch})`);
  });

  it('puts the helper and its addon, runnable, outside app.asar under resources/helper/', () => {
    const helperDir = join(unpacked, 'resources/helper');
    expect(readdirSync(helperDir).sort()).toEqual(HELPER_FILES);
    expect(statSync(join(helperDir, 'berth-helper')).mode & 0o111).toBe(0o111);
    // It still runs after packaging (the stand-in is node, so it prints node's version).
    expect(execFileSync(join(helperDir, 'berth-helper'), ['--version'], { encoding: 'utf8' }).trim()).toBe(process.version);
  });

  it('puts the CLI where the CLI links point (common/cli-tools.ts), runnable, its addon beside it', () => {
    expect(readdirSync(join(unpacked, 'resources/bin')).sort()).toEqual(CLI_FILES);
    // One file under both names (the afterPack hook's hard links), the addon too.
    expect(statSync(join(unpacked, 'resources/bin/berth')).ino).toBe(statSync(join(unpacked, 'resources/helper/berth-helper')).ino);
    expect(statSync(join(unpacked, 'resources/bin/berth_native.node')).ino).toBe(statSync(join(unpacked, 'resources/helper/berth_native.node')).ino);
    expect(cliToolTarget(unpacked, 'berth', 'linux')).toBe(join(unpacked, 'resources/bin/berth'));
    expect(execFileSync(join(unpacked, 'resources/bin/berth'), ['--version'], { encoding: 'utf8' }).trim()).toBe(process.version);
  });

  it('is what main/install/helper-install.ts runs in a packaged app', () => {
    // Electron sets process.resourcesPath; here it is set for this one call.
    Object.defineProperty(process, 'resourcesPath', { value: join(unpacked, 'resources'), configurable: true });
    try {
      expect(bundledHelperCommand()).toEqual([join(unpacked, 'resources/helper/berth-helper')]);
    } finally {
      Reflect.deleteProperty(process, 'resourcesPath');
    }
  });

  it('packs only the bundles, the tray icons and the manifest into app.asar, with the addon unpacked beside it', () => {
    const files = listPackage(join(unpacked, 'resources/app.asar'), { isPack: false }).sort();
    const icons = TRAY_ICONS.flatMap((icon) =>
      ['', 'Template'].flatMap((kind) => ['', '@2x'].map((scale) => `/dist/main/icons/tray-${icon}${kind}${scale}.png`)),
    );
    expect(files).toEqual(
      [
        '/dist',
        '/dist/main',
        '/dist/main/berth_native.node',
        '/dist/main/electron.js',
        '/dist/main/icons',
        ...icons,
        '/dist/main/preload.js',
        '/dist/renderer',
        '/dist/renderer/index.html',
        '/package.json',
      ].sort(),
    );
    expect(readFileSync(join(unpacked, 'resources/app.asar.unpacked/dist/main/berth_native.node'))).toEqual(readFileSync(stubAddon));
  });

  it('leaves the packaged Electron binary with the release fuses', async () => {
    const wire = (await getCurrentFuseWire(join(unpacked, 'berth'))) as unknown as Record<number, number>;
    for (const [name, enabled] of Object.entries(FUSES)) {
      expect(wire[FuseV1Options[name as keyof typeof FuseV1Options]], name).toBe(enabled ? 0x31 : 0x30);
    }
  });
});
