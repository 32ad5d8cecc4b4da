/**
 * Every file the Electron main process loads at run time, relative to its own
 * bundle (dist/main/electron.js): one list for main.ts and for the test that
 * checks a prepared app directory has them all (scripts/app-dir.test.ts).
 * No electron import.
 */
import { join } from 'node:path';
import { ADDON_FILE } from '../../native/loader';

/** The tray's state icons (scripts/tray-icons.mjs draws one PNG per name). */
export const TRAY_ICONS = ['running', 'user-mode', 'error', 'attention', 'limited'] as const;
export type TrayIcon = (typeof TRAY_ICONS)[number];

export interface AppFiles {
  /** The windows' preload bundle. */
  preload: string;
  /** The built renderer, served as berth://app (app-protocol.ts). */
  rendererDir: string;
  /** The renderer's one page. */
  rendererPage: string;
  /** The native addon, beside the bundle (native/loader.ts looks there first). */
  addon: string;
  trayIcon(icon: TrayIcon): string;
}

export function appFiles(mainDir: string): AppFiles {
  const rendererDir = join(mainDir, '..', 'renderer');
  return {
    preload: join(mainDir, 'preload.js'),
    rendererDir,
    rendererPage: join(rendererDir, 'index.html'),
    addon: join(mainDir, ADDON_FILE),
    trayIcon: (icon) => join(mainDir, 'icons', `tray-${icon}.png`),
  };
}
