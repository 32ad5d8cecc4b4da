// The Electron shell: tray, windows and IPC over the Electron-free backend.
// No logic lives here; it shows the backend's state and forwards the user's
// commands, each checked for sender and validated by the backend's one gate.
import { app, BrowserWindow, ipcMain, protocol, screen, session, type IpcMainEvent, type IpcMainInvokeEvent } from 'electron';
import { dirname } from 'node:path';
import { BERTH_VERSION } from '../../common/app-version';
import { needsUserAnswer } from '../core/attention';
import { startRuntime, type Runtime } from '../core/runtime';
import { IPC, secureWebPreferences } from './web-preferences';
import { APP_SCHEME, APP_SCHEME_PRIVILEGES, appPageUrl, appProtocolHandler, isOurPage } from './app-protocol';
import { appFiles } from './app-files';
import { createTray, type BerthTray } from './tray';
import { MENU_BAR_LOGIN, xdgAutostart } from '../core/login-item';
import type { LoginItem } from '../core/system-settings';
import { userPaths } from '../../common/user-paths';

const files = appFiles(__dirname);
let runtime: Runtime | undefined;
let tray: BerthTray | undefined;
let popover: BrowserWindow | undefined;
let settingsWindow: BrowserWindow | undefined;

/** Where this Berth is installed: what the helper's installer and the CLI links point at. */
function appPath(): string {
  if (!app.isPackaged) return app.getAppPath();
  // macOS: /Applications/Berth.app/Contents/MacOS/Berth → the .app bundle; Linux: the install directory.
  return process.platform === 'darwin' ? dirname(dirname(dirname(process.execPath))) : dirname(process.execPath);
}

/**
 * Start at login. Electron's login items are macOS and Windows only (on Linux
 * setLoginItemSettings does nothing), so Linux gets an XDG autostart entry
 * that runs this very program: the AppImage file itself when run from one
 * (process.execPath is then inside a mount that is gone after exit).
 */
function loginItem(): LoginItem {
  if (process.platform !== 'linux') {
    return { description: MENU_BAR_LOGIN, set: (openAtLogin) => app.setLoginItemSettings({ openAtLogin }) };
  }
  const program = process.env.APPIMAGE ?? process.execPath;
  return xdgAutostart(dirname(userPaths().configDir), [program], MENU_BAR_LOGIN);
}

function createWindow(view: 'popover' | 'add-port' | 'settings'): BrowserWindow {
  const isPopover = view !== 'settings';
  const win = new BrowserWindow({
    width: isPopover ? 380 : 680,
    height: isPopover ? 560 : 760,
    show: false,
    frame: !isPopover,
    resizable: !isPopover,
    skipTaskbar: isPopover,
    alwaysOnTop: isPopover,
    title: isPopover ? 'Berth' : 'Berth Settings',
    webPreferences: secureWebPreferences(files.preload, app.isPackaged),
  });
  void win.loadURL(appPageUrl(view));
  if (isPopover) win.on('blur', () => win.hide());
  return win;
}

/** The popover (the port panel); 'add-port' opens it on the add-port form (renderer/route.ts). */
function showPopover(route: 'popover' | 'add-port' = 'popover'): void {
  if (popover === undefined) popover = createWindow(route);
  // Only the hash changes: the page stays, and its hashchange opens the form.
  else if (route === 'add-port') void popover.loadURL(appPageUrl(route));
  if (tray !== undefined) {
    // Under the menu-bar icon; clamped to the display's work area.
    const icon = tray.tray.getBounds();
    const area = screen.getDisplayNearestPoint({ x: icon.x, y: icon.y }).workArea;
    const [width, height] = popover.getSize() as [number, number];
    const x = Math.min(Math.max(Math.round(icon.x + icon.width / 2 - width / 2), area.x), area.x + area.width - width);
    const y = icon.y < area.y + area.height / 2 ? area.y : area.y + area.height - height;
    popover.setPosition(x, y);
  }
  popover.show();
  popover.focus();
}

function showSettings(): void {
  if (settingsWindow === undefined || settingsWindow.isDestroyed()) {
    settingsWindow = createWindow('settings');
    settingsWindow.once('ready-to-show', () => settingsWindow?.show());
  } else settingsWindow.show();
}

/** IPC from anything but our own top-level page is refused before the backend sees it. */
function checkSender(event: IpcMainInvokeEvent | IpcMainEvent): void {
  const frame = event.senderFrame;
  if (frame === null || !isOurPage(frame.url, frame === event.sender.mainFrame)) {
    throw new Error('refused: not a Berth page');
  }
}

function lockDown(): void {
  // Berth's pages need no camera, notifications or anything else: every permission is refused.
  session.defaultSession.setPermissionRequestHandler((_wc, _permission, callback) => callback(false));
  session.defaultSession.setPermissionCheckHandler(() => false);
  // The pages come from berth://app, served from the renderer directory only (app-protocol.ts).
  protocol.handle(APP_SCHEME, appProtocolHandler(files.rendererDir));
  app.on('web-contents-created', (_event, contents) => {
    // A window never leaves its page: not the top frame (will-navigate) nor any frame in it (will-frame-navigate).
    contents.on('will-navigate', (event) => event.preventDefault());
    contents.on('will-frame-navigate', (event) => event.preventDefault());
    contents.on('will-redirect', (event) => event.preventDefault());
    contents.on('will-attach-webview', (event) => event.preventDefault());
    contents.setWindowOpenHandler(() => ({ action: 'deny' }));
  });
}

function wireIpc(rt: Runtime): void {
  ipcMain.handle(IPC.call, (event, method: unknown, params: unknown) => {
    checkSender(event);
    return rt.backend.call(method, params);
  });
  ipcMain.on(IPC.subscribe, (event) => {
    try {
      checkSender(event);
    } catch {
      return;
    }
    const contents = event.sender;
    contents.send(IPC.state, rt.backend.state());
    const unsubscribe = rt.backend.subscribe((state) => {
      if (!contents.isDestroyed()) contents.send(IPC.state, state);
    });
    contents.once('destroyed', unsubscribe);
  });
}

async function main(): Promise<void> {
  await app.whenReady();
  app.dock?.hide();
  lockDown();
  runtime = await startRuntime({
    appPath: appPath(),
    loginItem: loginItem(),
    onQuit: () => app.quit(),
    onOpenSettings: () => showSettings(),
  });
  wireIpc(runtime);
  tray = createTray(runtime.backend, files, BERTH_VERSION, {
    showPopover,
    togglePopover: () => (popover?.isVisible() ? popover.hide() : showPopover()),
  });
  const state = runtime.backend.state();
  runtime.backend.subscribe(tray.update);
  // First run (or a newer bundled helper, asked once): open the popover so the user sees the question.
  if (needsUserAnswer(state) !== null) showPopover();
}

// Before ready, or the scheme gets no origin of its own (app-protocol.ts says which privileges and why).
protocol.registerSchemesAsPrivileged([{ scheme: APP_SCHEME, privileges: { ...APP_SCHEME_PRIVILEGES } }]);

if (!app.requestSingleInstanceLock()) {
  app.quit();
} else {
  // Launching Berth again shows the window, once this one has started: before
  // ready no window can open, and before the backend runs no IPC serves it.
  const started = main();
  app.on('second-instance', () => void started.then(() => showPopover(), () => undefined));
  app.on('window-all-closed', () => {
    // A menu-bar app keeps running with no windows.
  });
  app.on('will-quit', () => void runtime?.close());
  started.catch((error: unknown) => {
    console.error(`Berth could not start: ${error instanceof Error ? error.message : String(error)}`);
    app.exit(1);
  });
}
