import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { isSingleExecutable } from '../../native';
import { cliAppPath } from '../install/app-location';
import { startBrowserServer, hasRenderer, type BrowserServer } from '../core/browser/server';
import { BROWSER_MODE_LOGIN, xdgAutostart } from '../core/login-item';
import { startRuntime } from '../core/runtime';
import { installLayout } from '../../common/paths';
import { userPaths } from '../../common/user-paths';
import { connectBackend } from './backend-access';
import { EXIT } from './exit-codes';
import { UsageError, type CliIO } from './io';

export const APP_USAGE = `Usage: berth app [--port N] [--open] [--json] [--helper-socket PATH]

  Runs Berth without Electron: the backend (ports, settings, the helper) and its
  window served on http://127.0.0.1 to you alone. It keeps running until you
  press Ctrl-C. The CLI's other commands talk to it. The link it prints works
  once, for a minute; "berth app --open" opens a new window of the running app.

  --port N   serve the window on this port (default: any free port)
  --open     open the window in your browser (xdg-open / open)
  --json     print {"url", "controlSocket"} as one JSON line instead of a sentence
             (url: a link that works once, for a minute)
  --helper-socket PATH
             use the helper on this socket instead of the installed one (tests,
             side-by-side installs); it must still be served by root
`;



/**
 * Hands a launch link to the system's opener. Its command line (and the
 * browser's) shows the link to every local user: that is why a link holds a
 * single-use code and the server serves no other user (T25).
 */
function openInBrowser(url: string, io: CliIO, fallback: () => string): void {
  const opener = process.platform === 'darwin' ? 'open' : 'xdg-open';
  spawn(opener, [url], { stdio: 'ignore', detached: true })
    .on('error', () => io.err(`berth: could not run ${opener}; open ${fallback()} yourself (it works once, for a minute)\n`))
    .unref();
}

export async function appCommand(argv: string[], io: CliIO, signal?: AbortSignal): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      port: { type: 'string' },
      open: { type: 'boolean' },
      json: { type: 'boolean' },
      'helper-socket': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    io.out(APP_USAGE);
    return EXIT.ok;
  }
  const port = values.port === undefined ? 0 : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be 0-65535 (got ${values.port})`);
  // Usage is checked before anything about this machine, so bad usage always answers 64.
  const helperSocket = values['helper-socket'];
  if (helperSocket !== undefined && !helperSocket.startsWith('/')) throw new UsageError('--helper-socket needs an absolute path');
  const root = cliAppPath();
  const staticDir = join(root, 'dist/renderer');
  if (!hasRenderer(staticDir)) {
    // The packaged CLI ships without the browser-mode window: the app it belongs to is the window there.
    io.err(
      isSingleExecutable()
        ? `berth: berth app runs Berth from a build of it; this is the CLI of the installed app (${root}): open Berth itself instead\n`
        : `berth: the window is not built (no ${staticDir}/index.html); run "npm run build"\n`,
    );
    return EXIT.error;
  }
  const paths = userPaths();
  // Already running (e.g. started at login): a new window of that app (a fresh link
  // from it, over the control socket, which only this user reaches), not a second backend.
  const running = await connectBackend(paths.controlSocketPath);
  if (running !== undefined) {
    try {
      const { url } = await running.call('app.windowLink', {});
      if (url === null) {
        io.err('berth: Berth is already running as the desktop app; use its window (from the menu bar)\n');
        return values.open ? EXIT.error : EXIT.ok;
      }
      if (values.json) {
        // A script asking for the window gets one of the running app (a fresh single-use link), not an error.
        io.out(`${JSON.stringify({ url, controlSocket: paths.controlSocketPath })}\n`);
        return EXIT.ok;
      }
      if (!values.open) {
        io.out('Berth is already running. Open its window with: berth app --open\n');
        return EXIT.ok;
      }
      openInBrowser(url, io, () => url);
      io.out('Berth is already running; opening a new window of it in your browser.\n');
      return EXIT.ok;
    } finally {
      running.close();
    }
  }
  let stop!: () => void;
  const stopped = new Promise<void>((resolve) => (stop = resolve));
  const quit = (): void => stop();
  // The server starts after the backend it serves; until then there is no link to give.
  const window: { server?: BrowserServer } = {};
  const layout = installLayout();
  const runtime = await startRuntime({
    appPath: root,
    paths,
    layout: helperSocket === undefined ? layout : { ...layout, socketPath: helperSocket, socketDir: dirname(helperSocket) },
    loginItem:
      process.platform === 'linux' ? xdgAutostart(dirname(paths.configDir), [process.execPath, __filename, 'app'], BROWSER_MODE_LOGIN) : undefined,
    echo: (line) => io.err(line),
    onQuit: quit,
    windowLink: () => window.server?.launchUrl(),
  });
  const browser = await startBrowserServer({ host: runtime.backend, staticDir, port }).catch(async (error: unknown) => {
    await runtime.close();
    throw error;
  });
  // Every link carries its own launch code (single use, a minute): what the
  // opener gets sits in command lines every local user can read, so it is
  // never the one printed here, and neither is a credential (T25).
  window.server = browser;
  if (values.json) io.out(`${JSON.stringify({ url: browser.launchUrl(), controlSocket: runtime.paths.controlSocketPath })}\n`);
  else if (!values.open) io.out(`Berth is running. Open it with ${browser.launchUrl()} (the link works once, for a minute; "berth app --open" opens another window). Ctrl-C quits.\n`);
  else io.out('Berth is running; opening it in your browser. Ctrl-C quits.\n');
  if (values.open) openInBrowser(browser.launchUrl(), io, () => browser.launchUrl());
  process.once('SIGINT', quit);
  process.once('SIGTERM', quit);
  signal?.addEventListener('abort', quit);
  await stopped;
  process.off('SIGINT', quit);
  process.off('SIGTERM', quit);
  await browser.close();
  await runtime.close();
  return EXIT.ok;
}
