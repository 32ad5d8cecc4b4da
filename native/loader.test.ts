import { copyFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';
import { afterEach, describe, expect, it } from 'vitest';
import { POLL_READABLE, POLL_WRITABLE, addonSearchPaths, peerCredentials } from './index';
import { builtAddonPath, makeTempDir, removeTempDirs, startNode } from './test-helpers';

afterEach(() => removeTempDirs());

/** Bundle index.ts as CommonJS into a fresh directory, as scripts/build.mjs does. */
async function bundleLoader(): Promise<{ dir: string; bundle: string }> {
  const dir = makeTempDir(0o755);
  const bundle = path.join(dir, 'loader.js');
  await build({
    entryPoints: [path.join(__dirname, 'index.ts')],
    outfile: bundle,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    logLevel: 'silent',
  });
  return { dir, bundle };
}

const USE_ADDON = `
  const native = require(process.argv[1]);
  console.log('required');
  try { native.peerCredentials(2 ** 31 - 1); } catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }
`;

describe('native loader', () => {
  it('looks next to the module, then in build/Release (no SEA here)', () => {
    expect(addonSearchPaths()).toEqual([
      path.join(__dirname, 'berth_native.node'),
      path.join(__dirname, 'build', 'Release', 'berth_native.node'),
    ]);
    expect(POLL_READABLE).toBe(1);
    expect(POLL_WRITABLE).toBe(2);
    expect(() => peerCredentials(2 ** 31 - 1)).toThrow(expect.objectContaining({ code: 'EBADF' }));
  });

  it('loads lazily, and says where it looked when the addon is missing', async () => {
    const { dir, bundle } = await bundleLoader();
    const result = await startNode(USE_ADDON, [bundle]).done;
    expect(result.stderr).toBe('');
    const [first, second] = result.stdout.trim().split('\n');
    expect(first).toBe('required'); // requiring the module alone does not load the addon
    const reported = JSON.parse(second ?? '{}') as { message?: string };
    expect(reported.message).toBe(
      `Berth native addon not found; run \`npm ci\` to build it (looked in: ${path.join(dir, 'berth_native.node')}, ${path.join(dir, 'build', 'Release', 'berth_native.node')})`,
    );
  });

  it('loads the addon copied next to a CommonJS bundle', async () => {
    const { dir, bundle } = await bundleLoader();
    copyFileSync(builtAddonPath(), path.join(dir, 'berth_native.node'));
    const result = await startNode(USE_ADDON, [bundle]).done;
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout.trim().split('\n')[1] ?? '{}')).toMatchObject({ code: 'EBADF' });
  });

  it('does not skip a present but broken addon', async () => {
    const { dir, bundle } = await bundleLoader();
    writeFileSync(path.join(dir, 'berth_native.node'), 'not a shared object');
    const result = await startNode(USE_ADDON, [bundle]).done;
    const reported = JSON.parse(result.stdout.trim().split('\n')[1] ?? '{}') as { code?: string };
    expect(reported.code).toBe('ERR_DLOPEN_FAILED');
  });
});
