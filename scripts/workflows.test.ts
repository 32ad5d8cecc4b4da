// The CI workflows (.github/workflows/*.yml), checked offline: each against
// the GitHub Actions workflow schema (@action-validator/core, SchemaStore's
// schema), then Berth's own rules: what each job runs exists in this checkout,
// the Linux job runs the README's suite as root with the windows under Xvfb,
// the macOS job its subset, its end-to-end run and the packages.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { validateWorkflow } from '@action-validator/core';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../test/support/constants';
import { PORTABLE_TESTS } from '../vitest.portable.config';

const DIR = join(REPO_ROOT, '.github/workflows');
/** Ours; other workflows (macos.yml, the launchd smoke test) are checked against the schema only. */
const OURS = ['ci-linux.yml', 'ci-macos.yml'];

interface Step {
  name?: string;
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
  env?: Record<string, string>;
  if?: string;
}
interface Job {
  'runs-on': string;
  'timeout-minutes'?: number;
  env?: Record<string, string>;
  steps: Step[];
}
interface Workflow {
  on: Record<string, unknown>;
  permissions?: Record<string, string>;
  jobs: Record<string, Job>;
}

// js-yaml comes with electron-builder (its config loader reads electron-builder.yml with it).
const yaml = createRequire(import.meta.url)('js-yaml') as { load(text: string): unknown };
const read = (file: string): string => readFileSync(join(DIR, file), 'utf8');
const load = (file: string): Workflow => yaml.load(read(file)) as Workflow;
const runs = (job: Job): string[] => job.steps.flatMap((step) => (step.run === undefined ? [] : [step.run]));
const packageScripts = Object.keys((JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts);

describe('.github/workflows against the GitHub Actions workflow schema', () => {
  const files = readdirSync(DIR).filter((f) => /\.ya?ml$/.test(f));

  it('has our Linux and macOS workflows', () => {
    expect(files).toEqual(expect.arrayContaining(OURS));
  });

  it.each(files)('%s is a valid workflow', (file) => {
    const { errors } = validateWorkflow(read(file));
    expect(JSON.stringify(errors, null, 1)).toBe('[]');
  });

  it('the check is live: a misspelt key and a job without steps are refused', () => {
    const broken = read('ci-linux.yml').replace('runs-on: ubuntu-latest', 'run-on: ubuntu-latest');
    expect(validateWorkflow(broken).errors).not.toEqual([]);
    expect(validateWorkflow('name: x\non: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    stepz: []\n').errors).not.toEqual([]);
  });
});

describe.each(OURS)('%s', (file) => {
  const workflow = load(file);

  it('runs on pushes to main and pull requests, reads the repository only, and every job has a time limit', () => {
    expect(Object.keys(workflow.on).sort()).toEqual(['pull_request', 'push', 'workflow_dispatch']);
    expect(workflow.permissions).toEqual({ contents: 'read' });
    for (const job of Object.values(workflow.jobs)) expect(job['timeout-minutes']).toBeGreaterThan(0);
  });

  it('installs with npm ci on a pinned Node major, and calls only npm scripts and files that exist', () => {
    for (const job of Object.values(workflow.jobs)) {
      expect(job.steps.find((s) => s.uses?.startsWith('actions/setup-node@'))?.with).toMatchObject({ 'node-version': 20 });
      expect(runs(job)).toContain('npm ci');
      for (const run of runs(job)) {
        for (const [, script] of run.matchAll(/npm run (?:--silent )?([\w:-]+)/g)) expect(packageScripts).toContain(script);
        for (const [, path] of run.matchAll(/(?:bash|--config) ([\w./-]+\.(?:sh|ts))/g)) expect([path, existsSync(join(REPO_ROOT, path!))]).toEqual([path, true]);
      }
      for (const step of job.steps.filter((s) => s.uses !== undefined)) expect(step.uses).toMatch(/^actions\/[a-z-]+@v\d+$/);
    }
  });
});

describe('ci-linux.yml', () => {
  const { jobs } = load('ci-linux.yml');

  it('runs the whole suite as root, as the README says, with the windows under Xvfb (no auth: the test user draws too)', () => {
    expect(jobs.test!['runs-on']).toBe('ubuntu-latest');
    const test = runs(jobs.test!).find((run) => run.includes('npm test'));
    expect(test).toBe('xvfb-run --auto-servernum --server-args="-screen 0 1280x800x24 -ac" sudo -E env PATH="$PATH" npm test');
    // Ubuntu has no chromium package: Playwright's, named for the browser project and scripts/test-deps.sh.
    expect(runs(jobs.test!).join('\n')).toContain('BERTH_CHROMIUM=');
    expect(readFileSync(join(REPO_ROOT, 'scripts/test-deps.sh'), 'utf8')).toContain('[ -n "${BERTH_CHROMIUM:-}" ] || packages+=(chromium)');
  });

  it('builds the AppImage and deb from a release build and keeps them', () => {
    expect(runs(jobs.package!)).toEqual(['npm ci', 'npm run build:helper', 'npx electron-builder --linux AppImage deb --x64 --publish never']);
    expect(jobs.package!.steps.at(-1)).toMatchObject({ uses: 'actions/upload-artifact@v4', with: { path: 'release/*.AppImage\nrelease/*.deb\n', 'if-no-files-found': 'error' } });
  });
});

describe('ci-macos.yml', () => {
  const { jobs } = load('ci-macos.yml');

  it('runs a portable subset that names only test files of this checkout', () => {
    expect(PORTABLE_TESTS.length).toBeGreaterThan(0);
    for (const file of PORTABLE_TESTS) expect([file, existsSync(join(REPO_ROOT, file)) && /\.test\.tsx?$/.test(file)]).toEqual([file, true]);
  });

  it('runs the portable subset as root, then the end-to-end specs in the Electron app as the desktop user', () => {
    expect(jobs.test!['runs-on']).toBe('macos-14');
    expect(runs(jobs.test!)).toEqual([
      'npm ci',
      'npm run build',
      'sudo -E env PATH="$PATH" npx vitest run --config vitest.portable.config.ts',
      'bash e2e/run-macos.sh',
    ]);
  });

  it('packages a release build (never the test build), signed only where the secrets are', () => {
    expect(runs(jobs.package!)).toEqual(['npm ci', 'npm run build:helper', 'npx electron-builder --mac dmg zip --arm64 --publish never']);
    const env = jobs.package!.env!;
    expect(env.BERTH_E2E_ROOT_SHELL).toBeUndefined();
    expect(env.CSC_IDENTITY_AUTO_DISCOVERY).toBe("${{ secrets.MAC_CSC_LINK != '' }}");
    expect(jobs.package!.steps.at(-1)).toMatchObject({ uses: 'actions/upload-artifact@v4', with: { path: 'release/*.dmg\nrelease/*.zip\n', 'if-no-files-found': 'error' } });
  });
});
