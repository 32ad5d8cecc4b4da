// The afterPack hook on packaged-app layouts as electron-builder leaves them.
// Electron itself cannot be downloaded here, so its binary is a stand-in that
// carries the real fuse wire format (sentinel, version, length, one byte per
// fuse) which @electron/fuses reads and writes; the helper binaries are real
// executables (this machine's node) or real Mach-O headers.
import { appendFileSync, chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getCurrentFuseWire, FuseV1Options } from '@electron/fuses';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { E2E_ROOT_SHELL_MARKER } from '../main/install/e2e-root-shell';
import { FUSES } from './fuses.cjs';

interface PackContext {
  appOutDir: string;
  electronPlatformName: string;
  arch: number;
  packager: { executableName: string; appInfo: { productFilename: string } };
}
const { afterPack } = createRequire(import.meta.url)('./after-pack.cjs') as { afterPack: (context: PackContext) => Promise<void> };

const SENTINEL = 'dL7pKGdnNz796PbbjQWNKmHXBZaB9tsX';
/** electron-builder's Arch enum values. */
const ARCH = { x64: 1, arm64: 3 } as const;
const HOST_ARCH = process.arch === 'arm64' ? ARCH.arm64 : ARCH.x64;
const OTHER_ARCH = process.arch === 'arm64' ? ARCH.x64 : ARCH.arm64;
const HOST_ARCH_NAME = process.arch === 'arm64' ? 'arm64' : 'x64';
/** Electron's own defaults for the 9 fuses of its current wire ('1' on, '0' off). */
const ELECTRON_DEFAULT_WIRE = '101100011';

let out: string;
beforeEach(() => {
  out = mkdtempSync(join(tmpdir(), 'berth-afterpack-'));
});
afterEach(() => rmSync(out, { recursive: true, force: true }));

/** An Electron-like binary: some bytes, the fuse wire, more bytes. */
function fakeElectron(file: string, wire = ELECTRON_DEFAULT_WIRE): Buffer {
  const bytes = Buffer.concat([
    Buffer.alloc(512, 0xcc),
    Buffer.from(SENTINEL, 'ascii'),
    Buffer.from([1, wire.length]),
    Buffer.from(wire, 'ascii'),
    Buffer.alloc(512, 0xcc),
  ]);
  mkdirSync(join(file, '..'), { recursive: true });
  writeFileSync(file, bytes, { mode: 0o755 });
  return bytes;
}

/** A linux-unpacked layout: ./berth, resources/helper/{berth-helper, berth_native.node} and resources/bin/{berth, berth_native.node}. */
function linuxApp(options: { helper?: boolean } = {}): { context: PackContext; electron: string; helperDir: string; binDir: string } {
  const electron = join(out, 'berth');
  fakeElectron(electron);
  const helperDir = join(out, 'resources/helper');
  const binDir = join(out, 'resources/bin');
  for (const [dir, name] of [
    [helperDir, 'berth-helper'],
    [binDir, 'berth'],
  ] as const) {
    mkdirSync(dir, { recursive: true });
    if (dir === helperDir && options.helper === false) continue;
    // This machine's node: an ELF executable of the host arch, as the SEA is.
    copyFileSync(process.execPath, join(dir, name));
    chmodSync(join(dir, name), 0o755);
    writeFileSync(join(dir, 'berth_native.node'), 'addon');
  }
  return {
    context: {
      appOutDir: out,
      electronPlatformName: 'linux',
      arch: HOST_ARCH,
      packager: { executableName: 'berth', appInfo: { productFilename: 'Berth' } },
    },
    electron,
    helperDir,
    binDir,
  };
}

/** The first bytes of a 64-bit Mach-O executable for `cpu`. */
function machOHeader(cpu: number): Buffer {
  const header = Buffer.alloc(4096);
  header.writeUInt32LE(0xfeedfacf, 0);
  header.writeUInt32LE(cpu, 4);
  return header;
}

async function fuseStates(electron: string): Promise<Record<string, number>> {
  const wire = (await getCurrentFuseWire(electron)) as unknown as Record<string, number>;
  return Object.fromEntries(Object.keys(FUSES).map((name) => [name, wire[FuseV1Options[name as keyof typeof FuseV1Options]]!]));
}
const expectedStates = Object.fromEntries(Object.entries(FUSES).map(([name, on]) => [name, on ? 0x31 : 0x30]));

describe('afterPack (scripts/after-pack.cjs)', () => {
  it('sets every release fuse in the Linux binary and leaves fuses it does not know as Electron had them', async () => {
    const { context, electron } = linuxApp();
    await afterPack(context);
    expect(await fuseStates(electron)).toEqual(expectedStates);
    // The 9th fuse (newer than @electron/fuses 1.8) keeps its default.
    const wire = (await getCurrentFuseWire(electron)) as unknown as Record<string, number>;
    expect(wire[8]).toBe(0x31);
  });

  it('makes the helper and the CLI one file again (electron-builder copied them apart), the addon too', async () => {
    const { context, helperDir, binDir } = linuxApp();
    const inode = (file: string): number => statSync(file).ino;
    expect(inode(join(helperDir, 'berth-helper'))).not.toBe(inode(join(binDir, 'berth')));
    await afterPack(context);
    expect(inode(join(helperDir, 'berth-helper'))).toBe(inode(join(binDir, 'berth')));
    expect(inode(join(helperDir, 'berth_native.node'))).toBe(inode(join(binDir, 'berth_native.node')));
    expect(statSync(join(binDir, 'berth')).nlink).toBe(2);
    // Still a runnable file of its own under the helper's name (not a symlink).
    expect(statSync(join(helperDir, 'berth-helper')).mode & 0o111).toBe(0o111);
    // Run again on an already linked package: nothing to do, nothing refused.
    await afterPack(context);
    expect(inode(join(helperDir, 'berth-helper'))).toBe(inode(join(binDir, 'berth')));
  });

  it('refuses a helper that is not the same build as the CLI, linking nothing', async () => {
    const { context, electron, helperDir, binDir } = linuxApp();
    appendFileSync(join(helperDir, 'berth-helper'), 'another build');
    const before = readFileSync(electron);
    await expect(afterPack(context)).rejects.toThrow(
      `${join(helperDir, 'berth-helper')} and ${join(binDir, 'berth')} differ: they must be one single executable (npm run build:helper makes both)`,
    );
    expect(statSync(join(helperDir, 'berth_native.node')).ino).not.toBe(statSync(join(binDir, 'berth_native.node')).ino);
    expect(readFileSync(electron)).toEqual(before);
  });

  it('finds the macOS Electron Framework and helper inside Berth.app', async () => {
    const app = join(out, 'Berth.app/Contents');
    const framework = join(app, 'Frameworks/Electron Framework.framework/Electron Framework');
    fakeElectron(framework);
    for (const [dir, name] of [
      ['Resources/helper', 'berth-helper'],
      ['Resources/bin', 'berth'],
    ] as const) {
      mkdirSync(join(app, dir), { recursive: true });
      writeFileSync(join(app, dir, name), machOHeader(0x01000007), { mode: 0o755 });
      writeFileSync(join(app, dir, 'berth_native.node'), 'addon');
    }
    // x64: arm64 would also re-sign ad hoc with codesign, which only macOS has.
    await afterPack({
      appOutDir: out,
      electronPlatformName: 'darwin',
      arch: ARCH.x64,
      packager: { executableName: 'berth', appInfo: { productFilename: 'Berth' } },
    });
    // @electron/fuses maps Berth.app to its Electron Framework binary, as the hook does.
    expect(await fuseStates(join(out, 'Berth.app'))).toEqual(expectedStates);
    expect(readFileSync(framework).includes(SENTINEL)).toBe(true);
  });

  it('refuses a package without the helper, naming the fix, and changes nothing', async () => {
    const { context, electron, helperDir } = linuxApp({ helper: false });
    const before = readFileSync(electron);
    await expect(afterPack(context)).rejects.toThrow(
      `${join(helperDir, 'berth-helper')} is missing: run "npm run build:helper" before electron-builder`,
    );
    expect(readFileSync(electron)).toEqual(before);
  });

  it('refuses a helper without its addon', async () => {
    const { context, electron, helperDir } = linuxApp();
    rmSync(join(helperDir, 'berth_native.node'));
    const before = readFileSync(electron);
    await expect(afterPack(context)).rejects.toThrow(`${join(helperDir, 'berth_native.node')} is missing`);
    expect(readFileSync(electron)).toEqual(before);
  });

  it('refuses a helper that is not executable', async () => {
    const { context, electron, helperDir } = linuxApp();
    chmodSync(join(helperDir, 'berth-helper'), 0o644);
    const before = readFileSync(electron);
    await expect(afterPack(context)).rejects.toThrow(`${join(helperDir, 'berth-helper')} is not executable`);
    expect(readFileSync(electron)).toEqual(before);
  });

  it('refuses a helper built for another arch (the SEA is the building machine’s node)', async () => {
    const { context, electron, helperDir } = linuxApp();
    const before = readFileSync(electron);
    const host = process.arch === 'arm64' ? 'arm64' : 'x64';
    const other = host === 'arm64' ? 'x64' : 'arm64';
    await expect(afterPack({ ...context, arch: OTHER_ARCH })).rejects.toThrow(
      `${join(helperDir, 'berth-helper')} is elf ${host}, but this package is elf ${other}: build the helper for it (npm run build:helper -- --target linux-${other})`,
    );
    expect(readFileSync(electron)).toEqual(before);
  });

  it('refuses a macOS helper in a Linux package, and a file that is no executable', async () => {
    const { context, electron, helperDir } = linuxApp();
    const before = readFileSync(electron);
    writeFileSync(join(helperDir, 'berth-helper'), machOHeader(0x0100000c), { mode: 0o755 });
    await expect(afterPack(context)).rejects.toThrow(`${join(helperDir, 'berth-helper')} is mach-o arm64, but this package is elf`);
    writeFileSync(join(helperDir, 'berth-helper'), '#!/bin/sh\n', { mode: 0o755 });
    await expect(afterPack(context)).rejects.toThrow(`${join(helperDir, 'berth-helper')} is not an executable, but this package is elf`);
    expect(readFileSync(electron)).toEqual(before);
  });

  it('refuses a package without the CLI the links point to, or with a CLI for another platform', async () => {
    const { context, electron, binDir } = linuxApp();
    const before = readFileSync(electron);
    rmSync(join(binDir, 'berth'));
    await expect(afterPack(context)).rejects.toThrow(`${join(binDir, 'berth')} is missing: run "npm run build:helper" before electron-builder`);
    writeFileSync(join(binDir, 'berth'), machOHeader(0x0100000c), { mode: 0o755 });
    await expect(afterPack(context)).rejects.toThrow(
      `${join(binDir, 'berth')} is mach-o arm64, but this package is elf ${HOST_ARCH_NAME}: build the CLI for it (npm run build:helper -- --target linux-${HOST_ARCH_NAME})`,
    );
    expect(readFileSync(electron)).toEqual(before);
  });

  it('refuses a test build (the macOS password prompt replaced by sudo) in app.asar or the CLI, and changes nothing', async () => {
    const { context, electron, binDir } = linuxApp();
    const before = readFileSync(electron);
    const asar = join(out, 'resources/app.asar');
    writeFileSync(asar, `header {"files":{}} ... function rootShellArgv(argv) { return ["/usr/bin/sudo", "-n", "-p", "${E2E_ROOT_SHELL_MARKER}"]; }`);
    await expect(afterPack(context)).rejects.toThrow(`${asar} is from a test build (BERTH_E2E_ROOT_SHELL=1, the password prompt replaced by sudo)`);
    expect(readFileSync(electron)).toEqual(before);

    writeFileSync(asar, 'a release build');
    writeFileSync(join(binDir, 'berth'), Buffer.concat([readFileSync(process.execPath), Buffer.from(E2E_ROOT_SHELL_MARKER)]));
    await expect(afterPack(context)).rejects.toThrow(`${join(binDir, 'berth')} is from a test build`);
    expect(readFileSync(electron)).toEqual(before);
  });

  it('refuses platforms Berth is not packaged for', async () => {
    const { context } = linuxApp();
    await expect(afterPack({ ...context, electronPlatformName: 'win32' })).rejects.toThrow('Berth is packaged for macOS and Linux only, not win32');
  });

  it('fails, changing nothing, on an Electron binary without a fuse wire or with one too short for the fuses we set', async () => {
    const { context, electron } = linuxApp();
    writeFileSync(electron, Buffer.alloc(4096, 0xcc));
    await expect(afterPack(context)).rejects.toThrow('Could not find sentinel in the provided Electron binary');
    expect(readFileSync(electron)).toEqual(Buffer.alloc(4096, 0xcc));

    const short = fakeElectron(electron, '101100');
    await expect(afterPack(context)).rejects.toThrow('the fuse wire in this version of Electron is not long enough');
    expect(readFileSync(electron)).toEqual(short);
  });
});
