/**
 * Every file the Electron main process loads at run time, relative to its own
 * bundle (dist/main/electron.js): one list for main.ts and for the test that
 * checks a prepared app directory has them all (scripts/app-dir.test.ts).
 * No electron import.
 */
import { join } from 'node:path';
import { ADDON_FILE } from '../../native/loader';
import { TRAY_ICONS, type TrayIcon } from '../core/tray-menu';

export { TRAY_ICONS, type TrayIcon };

/** "tray-runningTemplate.png": Electron treats a file whose name ends in Template as a template image. */
export function trayTemplateName(icon: TrayIcon): string {
  return `tray-${icon}Template.png`;
}

export interface AppFiles {
  /** The windows' preload bundle. */
  preload: string;
  /** The built renderer, served as berth://app (app-protocol.ts). */
  rendererDir: string;
  /** The renderer's one page. */
  rendererPage: string;
  /** The native addon, beside the bundle (native/loader.ts looks there first). */
  addon: string;
  /**
   * A tray icon's 1x file (the 2x sits beside it as …@2x.png, and Electron
   * picks it). macOS: a monochrome template image (the name must end in
   * "Template") that the menu bar draws light or dark; elsewhere the coloured one.
   */
  trayIcon(icon: TrayIcon, platform: NodeJS.Platform): string;
}

export function appFiles(mainDir: string): AppFiles {
  const rendererDir = join(mainDir, '..', 'renderer');
  return {
    preload: join(mainDir, 'preload.js'),
    rendererDir,
    rendererPage: join(rendererDir, 'index.html'),
    addon: join(mainDir, ADDON_FILE),
    trayIcon: (icon, platform) => join(mainDir, 'icons', platform === 'darwin' ? trayTemplateName(icon) : `tray-${icon}.png`),
  };
}
