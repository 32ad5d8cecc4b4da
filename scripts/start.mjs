// `npm start`: build, then launch the Electron app. Where Electron cannot run
// (its binary is missing and cannot be downloaded), say so in one line and
// fall back to browser mode (`berth app`): the same UI and backend on 127.0.0.1.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);

/** The Electron binary, downloading it once if needed; undefined when it cannot be had. */
function electronBinary() {
  const pkgDir = dirname(require.resolve('electron/package.json'));
  const binaryAt = () => {
    const pathFile = join(pkgDir, 'path.txt');
    if (!existsSync(pathFile)) return undefined;
    const binary = join(pkgDir, 'dist', readFileSync(pathFile, 'utf8'));
    return existsSync(binary) ? binary : undefined;
  };
  const present = binaryAt();
  if (present) return present;
  // Electron fetches its binary lazily; try once, quietly, with a time limit.
  const attempt = spawnSync(process.execPath, [join(pkgDir, 'install.js')], { stdio: 'ignore', timeout: 120_000 });
  return attempt.status === 0 ? binaryAt() : undefined;
}

const built = spawnSync(process.execPath, [join(root, 'scripts/build.mjs')], { stdio: 'inherit' });
if (built.status !== 0) process.exit(built.status ?? 1);

const electron = electronBinary();
if (!electron) {
  // Browser mode: the same UI and backend, served on 127.0.0.1; `berth app` prints a link (single use, a minute; --open opens one).
  console.error('Berth: Electron cannot start here (its binary is not installed and could not be downloaded); running in browser mode instead.');
  const app = spawn(process.execPath, [join(root, 'dist/cli/berth.js'), 'app', ...process.argv.slice(2)], { stdio: 'inherit' });
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => app.kill(signal));
  app.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
} else {
  const child = spawn(electron, [root, ...process.argv.slice(2)], { stdio: 'inherit' });
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
}
