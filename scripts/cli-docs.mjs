// `npm run docs:cli`: rewrites the generated usage sections of docs/CLI.md
// from the CLI's own usage constants (scripts/cli-docs.sections.ts). The TypeScript is
// bundled with esbuild into a private temp dir, as scripts/build.mjs bundles
// the CLI, so no TS loader is needed.
import { build } from 'esbuild';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dir = mkdtempSync(join(tmpdir(), 'berth-cli-docs-'));
try {
  const outfile = join(dir, 'cli-docs.cjs');
  await build({
    entryPoints: [join(root, 'scripts/cli-docs.sections.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    logLevel: 'warning',
  });
  const { updateCliDoc, CLI_DOC } = createRequire(import.meta.url)(outfile);
  console.log(updateCliDoc(root) ? `docs:cli: ${CLI_DOC} updated` : `docs:cli: ${CLI_DOC} already up to date`);
} catch (error) {
  console.error(`docs:cli: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
