// The macOS suite is a list (vitest.darwin.config.ts) that the Linux suite
// never runs: these keep it from drifting. A *.darwin.test.ts missing from the
// list would run nowhere, and the workflow must run the list and the smoke test.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../test/support/constants';
import { DARWIN_TEST_FILES } from '../vitest.darwin.config';

function darwinOnlyTests(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'node_modules' || entry.name === 'build' ? [] : darwinOnlyTests(path);
    return entry.name.endsWith('.darwin.test.ts') ? [relative(REPO_ROOT, path)] : [];
  });
}

describe('the macOS suite', () => {
  it('lists every *.darwin.test.ts, and only files that exist', () => {
    const found = ['common', 'helper', 'main', 'native', 'renderer', 'scripts'].flatMap((root) => darwinOnlyTests(join(REPO_ROOT, root)));
    expect(found.length).toBeGreaterThan(0);
    expect(found.filter((file) => !DARWIN_TEST_FILES.includes(file))).toEqual([]);
    expect(DARWIN_TEST_FILES.filter((file) => !existsSync(join(REPO_ROOT, file)))).toEqual([]);
  });

  it('is what the macOS workflow runs, with the install smoke test', () => {
    const workflow = readFileSync(join(REPO_ROOT, '.github/workflows/macos.yml'), 'utf8');
    expect(workflow).toMatch(/^\s+runs-on: macos-14$/m);
    expect(workflow).toMatch(/^\s+run: npx vitest run --config vitest\.darwin\.config\.ts$/m);
    expect(workflow).toMatch(/^\s+run: bash scripts\/macos-install-smoke\.sh$/m);
    expect(existsSync(join(REPO_ROOT, 'scripts/macos-install-smoke.sh'))).toBe(true);
  });
});
