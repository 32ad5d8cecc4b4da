// The tray's Electron glue: the pure menu (main/core/tray-menu.ts) as a
// native Menu, each action as a backend call or a window. No decisions here.
import { dialog, Menu, nativeImage, shell, Tray, type MenuItemConstructorOptions } from 'electron';
import type { BackendState } from '../../common/api/backend-api';
import type { Backend } from '../core/backend';
import {
  clickOpensPopover,
  trayIconName,
  trayMenu,
  trayMenuKey,
  trayReplyMessage,
  trayTarget,
  trayToolTip,
  type ShellAction,
  type TrayAction,
  type TrayMenuItem,
} from '../core/tray-menu';
import type { AppFiles } from './app-files';

export interface TrayShell {
  /** Shows the popover (the port panel); 'add-port' opens it on the add-port form. */
  showPopover(route: 'popover' | 'add-port'): void;
  togglePopover(): void;
}

export interface BerthTray {
  tray: Tray;
  update(state: BackendState): void;
}

export function createTray(backend: Backend, files: AppFiles, version: string, windows: TrayShell): BerthTray {
  const platform = process.platform;
  const image = (state: BackendState) => {
    const icon = nativeImage.createFromPath(files.trayIcon(trayIconName(state), platform));
    // macOS draws a template image in the menu bar's own colour, light or dark (the file name says so too).
    if (platform === 'darwin') icon.setTemplateImage(true);
    return icon;
  };
  const state0 = backend.state();
  const tray = new Tray(image(state0));
  if (clickOpensPopover(platform)) tray.on('click', () => windows.togglePopover());

  const shellActions: Record<ShellAction, () => void> = {
    popover: () => windows.showPopover('popover'),
    'add-port': () => windows.showPopover('add-port'),
    'reveal-diagnostics': () => {
      const path = backend.state().diagnostics.path;
      if (path !== null) shell.showItemInFolder(path);
    },
  };

  const run = (action: TrayAction): void => {
    const target = trayTarget(action);
    if ('shell' in target) return shellActions[target.shell]();
    void backend.call(target.method, target.params).then((reply) => {
      const message = trayReplyMessage(target, reply);
      if (message !== null) void dialog.showMessageBox({ type: 'warning', title: 'Berth', message });
    });
  };

  const toTemplate = (items: TrayMenuItem[]): MenuItemConstructorOptions[] =>
    items.map((entry) => {
      if (entry.type === 'separator') return { type: 'separator' };
      const action = entry.action;
      return {
        label: entry.label,
        enabled: entry.enabled,
        ...(entry.toolTip !== undefined ? { toolTip: entry.toolTip } : {}),
        ...(entry.submenu !== undefined ? { submenu: toTemplate(entry.submenu) } : {}),
        ...(action !== null ? { click: () => run(action) } : {}),
      };
    });

  let icon = trayIconName(state0);
  let menuKey = '';
  let tip = '';
  const update = (state: BackendState): void => {
    // Every state change arrives here (connection counts too): touch the native parts only when what they show changed.
    const nextIcon = trayIconName(state);
    if (nextIcon !== icon) {
      icon = nextIcon;
      tray.setImage(image(state));
    }
    const nextTip = trayToolTip(state, version);
    if (nextTip !== tip) {
      tip = nextTip;
      tray.setToolTip(tip);
    }
    const menu = trayMenu(state);
    const key = trayMenuKey(menu);
    if (key !== menuKey) {
      menuKey = key;
      tray.setContextMenu(Menu.buildFromTemplate(toTemplate(menu)));
    }
  };
  update(state0);
  return { tray, update };
}
