// The Electron shell: a tray icon over the Electron-free core. No logic lives
// here; it shows what the core reports and forwards the user's choices.
import { app, ipcMain, Menu, nativeImage, Tray, type IpcMainInvokeEvent } from 'electron';
import { probeHelper, type HelperStatus } from '../core/helper-status';
import { systemPaths } from '../../common/paths';

let tray: Tray | undefined;

function menuFor(status: HelperStatus): Menu {
  return Menu.buildFromTemplate([
    { label: `Helper: ${status.state}`, enabled: false },
    { label: status.message, enabled: false },
    { type: 'separator' },
    { label: 'Refresh', click: () => void refresh() },
    { label: 'Quit Berth', role: 'quit' },
  ]);
}

async function refresh(): Promise<void> {
  const status = await probeHelper(systemPaths().socketPath);
  tray?.setToolTip(`Berth — helper ${status.state}`);
  // Linux app indicators ignore clicks: the context menu is the UI there.
  tray?.setContextMenu(menuFor(status));
}

/** Only our own bundled pages may call the backend: not a navigated-away or injected frame. */
function fromOurPage(event: IpcMainInvokeEvent): boolean {
  const url = event.senderFrame?.url ?? '';
  return url.startsWith('file://') && url.includes('/dist/renderer/');
}

// The preload's one call today; it takes no arguments, so there is nothing else to validate.
ipcMain.handle('berth:helper-status', (event) => {
  if (!fromOurPage(event)) throw new Error('refused: not a Berth page');
  return probeHelper(systemPaths().socketPath);
});

if (!app.requestSingleInstanceLock()) {
  app.quit();
} else {
  app.on('window-all-closed', () => {
    // A menu-bar app keeps running with no windows.
  });
  void app.whenReady().then(async () => {
    app.dock?.hide();
    tray = new Tray(nativeImage.createEmpty());
    await refresh();
  });
}
