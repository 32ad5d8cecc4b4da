import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import type { TestProject } from 'vitest/node';
import { REPO_ROOT, TEST_USERS, type TestUser } from './constants';
import { ensureUser } from './users';

declare module 'vitest' {
  export interface ProvidedContext {
    fixturesDir: string;
    users: { test: TestUser; other: TestUser };
  }
}

export default async function setup(project: TestProject): Promise<() => void> {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) {
    throw new Error('the test suite runs the helper as root with real users: run it as root on Linux (npm test)');
  }
  const helperBundle = join(REPO_ROOT, 'dist/helper/berth-helper.js');
  if (!existsSync(helperBundle)) throw new Error(`${helperBundle} is missing: run "npm run build" first`);

  const users = { test: ensureUser(TEST_USERS.test), other: ensureUser(TEST_USERS.other) };

  // Fixtures are bundled where the unprivileged users can read them, whatever
  // the permissions of the checkout's parent folders.
  const fixturesDir = mkdtempSync(join(tmpdir(), 'berth-fixtures-'));
  chmodSync(fixturesDir, 0o755);
  const fixtures = readdirSync(join(REPO_ROOT, 'test/fixtures')).filter((f) => f.endsWith('.ts'));
  await build({
    entryPoints: fixtures.map((f) => join(REPO_ROOT, 'test/fixtures', f)),
    outdir: fixturesDir,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    logLevel: 'warning',
  });
  const addon = join(REPO_ROOT, 'native/build/Release/berth_native.node');
  copyFileSync(addon, join(fixturesDir, 'berth_native.node'));
  // The built CLI and helper too, laid out as in dist/ (the CLI finds the helper
  // at ../helper/), so tests run the shipped bundles as an unprivileged user.
  for (const [dir, file] of [
    ['cli', 'berth.js'],
    ['helper', 'berth-helper.js'],
  ] as const) {
    mkdirSync(join(fixturesDir, dir), { mode: 0o755 });
    copyFileSync(join(REPO_ROOT, 'dist', dir, file), join(fixturesDir, dir, file));
    copyFileSync(addon, join(fixturesDir, dir, 'berth_native.node'));
    for (const f of readdirSync(join(fixturesDir, dir))) chmodSync(join(fixturesDir, dir, f), 0o755);
  }
  for (const f of readdirSync(fixturesDir)) chmodSync(join(fixturesDir, f), 0o755);
  // The app as installed (app/dist/{cli,helper,renderer}), for tests that run `berth app` as a user.
  const appDist = join(fixturesDir, 'app/dist');
  for (const dir of ['cli', 'helper', 'renderer']) {
    if (existsSync(join(REPO_ROOT, 'dist', dir))) cpSync(join(REPO_ROOT, 'dist', dir), join(appDist, dir), { recursive: true });
  }
  execFileSync('chmod', ['-R', 'a+rX', join(fixturesDir, 'app')]);

  project.provide('fixturesDir', fixturesDir);
  project.provide('users', users);
  return () => rmSync(fixturesDir, { recursive: true, force: true });
}
