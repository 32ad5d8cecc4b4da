// Bundle sizes, as a user downloads them, and the single executable's
// start-up. Sizes: the renderer's JS and CSS (raw and gzip -9, how a web
// server or an asar would carry them), and the single executable and its
// addon (raw, gzip -9, xz -9, as a dmg/AppImage/deb compresses them; names
// that are hard links to one file are counted once). Start-up: wall-clock
// time of `--version` under each name (median and fastest of BENCH_RUNS,
// default 30, all commands interleaved so a busy machine slows each alike),
// and CPU time (user + system) per run, beside the pinned Node doing nothing
// (`node -e 0`), /bin/true, and socat when it is installed. Reads what
// `npm run build` and `npm run build:helper` made; says which one to run when
// a part is missing.
//
//   npm run bench:size                   # = npm run build:helper (it bundles everything first) && node bench/bundle-size.mjs
//   node bench/bundle-size.mjs DIR...    # the executables in DIR instead of dist/sea (e.g. an older build, to compare)
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { cpus, loadavg, release } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { hostTarget, pinnedNode } from '../scripts/node-runtime.mjs';

const root = join(import.meta.dirname, '..');
const rendererAssets = join(root, 'dist/renderer/assets');
const dirs = process.argv.length > 2 ? process.argv.slice(2).map((dir) => resolve(dir)) : [join(root, 'dist/sea')];
const RUNS = Number(process.env.BENCH_RUNS ?? 30);

function missing(path, command) {
  console.error(`bundle-size: ${path} is missing; run "${command}" first`);
  process.exit(1);
}

const kib = (bytes) => `${(bytes / 1024).toFixed(1)} KiB`;
const mib = (bytes) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
const gzip = (path) => gzipSync(readFileSync(path), { level: 9 }).length;
/** xz -9 of the file, counted from xz's stdout (the machine's xz; the packages use the same). */
const xz = (path) => execFileSync('xz', ['-9', '-T1', '-c', path], { maxBuffer: 1 << 30 }).length;
const ms = (value) => value.toFixed(1);
const loads = () => loadavg().map((l) => l.toFixed(2)).join(' ');

function onPath(name) {
  return (process.env.PATH ?? '').split(delimiter).map((dir) => join(dir, name)).find((file) => existsSync(file));
}

if (!existsSync(rendererAssets)) missing(rendererAssets, 'npm run build');
for (const dir of dirs) if (!existsSync(dir)) missing(dir, 'npm run build:helper');

const loadBefore = loads();
const sizes = [];
for (const name of readdirSync(rendererAssets).sort()) {
  const path = join(rendererAssets, name);
  const kind = name.endsWith('.js') ? 'renderer JS' : name.endsWith('.css') ? 'renderer CSS' : null;
  if (kind === null) continue;
  sizes.push([kind, name, kib(statSync(path).size), kib(gzip(path)), '']);
}
/** [label, argv] of every start-up to time. */
const commands = [];
/** Bytes on disk per directory, each file once however many names it has. */
const totals = [];
for (const dir of dirs) {
  const seen = new Map();
  let total = 0;
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    const stat = statSync(path);
    const label = dirs.length > 1 ? `${dir}/${name}` : name;
    if (!name.endsWith('.node')) commands.push([`\`${name} --version\`${dirs.length > 1 ? ` (${dir})` : ''}`, [path, '--version']]);
    const key = `${stat.dev}:${stat.ino}`;
    if (seen.has(key)) {
      sizes.push(['same file', label, `hard link to ${seen.get(key)}`, '', '']);
      continue;
    }
    seen.set(key, name);
    total += stat.size;
    const kind = name.endsWith('.node') ? 'addon' : 'Node SEA';
    const show = stat.size > 1 << 20 ? mib : kib;
    sizes.push([kind, label, show(stat.size), show(gzip(path)), show(xz(path))]);
  }
  totals.push(`${dir}: ${mib(total)}`);
}

const node = pinnedNode(hostTarget());
commands.push([`pinned \`node -e 0\` (Node ${node.version}, no bundle)`, [node.path, '-e', '0']]);
commands.push(['`/bin/true`', ['/bin/true']]);
const socat = onPath('socat');
if (socat !== undefined) commands.push(['`socat -V`', [socat, '-V']]);

/** Wall-clock times, interleaved: one run of every command per round. */
const walls = commands.map(() => []);
for (let round = 0; round < RUNS; round++) {
  commands.forEach(([, argv], i) => {
    const start = process.hrtime.bigint();
    const result = spawnSync(argv[0], argv.slice(1), { stdio: ['ignore', 'ignore', 'ignore'] });
    walls[i].push(Number(process.hrtime.bigint() - start) / 1e6);
    if (result.status !== 0) {
      console.error(`bundle-size: ${argv.join(' ')} exited with ${result.status ?? result.signal}`);
      process.exit(1);
    }
  });
}
/** CPU (user + system) per run, from bash's `times` over RUNS runs of one command. */
function cpuPerRun(argv) {
  const out = execFileSync('bash', ['-c', 'for ((i = 0; i < $1; i++)); do "${@:2}" >/dev/null 2>&1; done; times', '_', String(RUNS), ...argv], { encoding: 'utf8' });
  const [user, system] = out.trim().split('\n').at(-1).split(/\s+/).map((t) => {
    const [, m, s] = /^(\d+)m([\d.]+)s$/.exec(t);
    return Number(m) * 60 + Number(s);
  });
  return ((user + system) * 1000) / RUNS;
}
const startups = commands.map(([label, argv], i) => {
  const sorted = [...walls[i]].sort((a, b) => a - b);
  return [label, ms(sorted[Math.floor(sorted.length / 2)]), ms(sorted[0]), ms(cpuPerRun(argv))];
});

const cpu = cpus();
console.log(`Machine: ${cpu[0]?.model ?? 'unknown CPU'}, ${cpu.length} cores, Linux ${release()}; load average (1, 5, 15 min) ${loadBefore} before, ${loads()} after.`);
console.log(`Node in the single executable: ${node.version} (${node.package}). ${RUNS} runs per start-up figure.\n`);
console.log('| part | file | raw | gzip -9 | xz -9 |');
console.log('| --- | --- | --- | --- | --- |');
for (const row of sizes) console.log(`| ${row.join(' | ')} |`);
console.log(`\nOn disk, each file once however many names it has: ${totals.join('; ')}.\n`);
console.log('| start-up | wall median ms | wall fastest ms | CPU ms per run |');
console.log('| --- | --- | --- | --- |');
for (const row of startups) console.log(`| ${row.join(' | ')} |`);
