import { chmodSync, chownSync, cpSync, existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/**
 * The Electron binary the `electron` project runs. npm's electron package
 * fetches it at install time (dist/, named in path.txt); where that download
 * is blocked (these machines) there is none, and only the browser project runs.
 */
export function installedElectron(): { dist: string; binary: string } | undefined {
  try {
    const pkg = dirname(createRequire(__filename).resolve('electron/package.json'));
    const binary = readFileSync(join(pkg, 'path.txt'), 'utf8');
    const dist = join(pkg, 'dist');
    return existsSync(join(dist, binary)) ? { dist, binary } : undefined;
  } catch {
    return undefined;
  }
}

/** Electron's copy inside the e2e machine, beside the app folder (e2e/run.sh's scratch). */
function machineDist(app: string): string {
  return join(dirname(app), 'electron');
}

/**
 * Copies Electron into the e2e machine, root-owned and readable by everyone,
 * as an installed app is: the test user runs it from there whatever the
 * permissions of the checkout's folders. Chromium's setuid sandbox helper is
 * made setuid root there (the machine's private copy, never node_modules), so
 * the renderer sandbox works where unprivileged user namespaces are refused
 * (Ubuntu 24.04's AppArmor default).
 */
export function copyElectronIntoMachine(app: string): void {
  const electron = installedElectron();
  if (electron === undefined) return;
  cpSync(electron.dist, machineDist(app), { recursive: true, verbatimSymlinks: true });
  const sandbox = join(machineDist(app), 'chrome-sandbox');
  if (process.platform === 'linux' && existsSync(sandbox)) {
    chownSync(sandbox, 0, 0);
    chmodSync(sandbox, 0o4755);
  }
}

/**
 * The Electron binary the test user runs: Linux, the copy inside the e2e
 * machine; macOS, npm's own (the suite runs as that user, who installed it).
 */
export function electronInMachine(app: string): string {
  const electron = installedElectron();
  if (electron === undefined) throw new Error('the electron project runs only where the Electron binary is installed');
  return join(process.platform === 'darwin' ? electron.dist : machineDist(app), electron.binary);
}
