// Bundle sizes, as a user downloads them: the renderer's JS and CSS (raw and
// gzip -9, how a web server or an asar would carry them) and the helper's and
// CLI's single executables and addon (raw, gzip -9, xz -9, as a dmg/AppImage/deb
// compresses them). Reads what `npm run build` and `npm run build:helper`
// made; says which one to run when a part is missing.
//
//   npm run bench:size      # = npm run build && npm run build:helper && node bench/bundle-size.mjs
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

const root = join(import.meta.dirname, '..');
const rendererAssets = join(root, 'dist/renderer/assets');
const seas = [
  ['helper', join(root, 'dist/helper-sea')],
  ['CLI', join(root, 'dist/cli-sea')],
];

function missing(path, command) {
  console.error(`bundle-size: ${path} is missing; run "${command}" first`);
  process.exit(1);
}

const kib = (bytes) => `${(bytes / 1024).toFixed(1)} KiB`;
const mib = (bytes) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
const gzip = (path) => gzipSync(readFileSync(path), { level: 9 }).length;
/** xz -9 of the file, counted from xz's stdout (the machine's xz; the packages use the same). */
const xz = (path) => execFileSync('xz', ['-9', '-T1', '-c', path], { maxBuffer: 1 << 30 }).length;

if (!existsSync(rendererAssets)) missing(rendererAssets, 'npm run build');
for (const [, dir] of seas) if (!existsSync(dir)) missing(dir, 'npm run build:helper');

const rows = [];
for (const name of readdirSync(rendererAssets).sort()) {
  const path = join(rendererAssets, name);
  const kind = name.endsWith('.js') ? 'renderer JS' : name.endsWith('.css') ? 'renderer CSS' : null;
  if (kind === null) continue;
  rows.push([kind, name, kib(statSync(path).size), kib(gzip(path)), '']);
}
for (const [part, dir] of seas) {
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    const size = statSync(path).size;
    const kind = name.endsWith('.node') ? `${part}'s addon` : `${part} (Node SEA)`;
    const show = size > 1 << 20 ? mib : kib;
    rows.push([kind, name, show(size), show(gzip(path)), show(xz(path))]);
  }
}

console.log('| part | file | raw | gzip -9 | xz -9 |');
console.log('| --- | --- | --- | --- | --- |');
for (const row of rows) console.log(`| ${row.join(' | ')} |`);
