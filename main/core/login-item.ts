import { ApiError, type SettingChange } from '../../common/api/backend-api';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { ensurePrivateDirectory, writeFileAtomic } from './fs/user-file';
import type { LoginItem } from './system-settings';

/**
 * Start at login on Linux: an XDG autostart entry
 * (~/.config/autostart/berth.desktop), read by every desktop that follows the
 * XDG autostart spec (GNOME, KDE, Xfce, …). Used by browser mode, and by the
 * Electron app on Linux, where Electron's setLoginItemSettings does nothing
 * (it is macOS and Windows only).
 */
export function xdgAutostart(configHome: string, command: readonly string[], description: string): LoginItem {
  const dir = join(configHome, 'autostart');
  const path = join(dir, 'berth.desktop');
  return {
    description,
    set(enabled) {
      if (!enabled) return void rmSync(path, { force: true });
      ensurePrivateDirectory(dir);
      // Desktop-entry Exec quoting: each argument in double quotes, with \ " ` $ escaped.
      const exec = command.map((a) => `"${a.replace(/[\\"`$]/g, (c) => `\\${c}`)}"`).join(' ');
      writeFileAtomic(path, `[Desktop Entry]\nType=Application\nName=Berth\nExec=${exec}\nX-GNOME-Autostart-enabled=true\n`, 0o644);
    },
  };
}

/** What browser mode's entry does: it starts the backend, whose window nobody sees until they open it. */
export const BROWSER_MODE_LOGIN =
  'Start Berth in the background when you log in, so your published ports come back; open its window with "berth app --open".';
export const MENU_BAR_LOGIN = 'Open Berth in the menu bar when you log in.';

/** The state the UI and CLI show: what the login item does, or why there is none (then it is not offered). */
export function loginItemState(item: LoginItem | undefined, platform: NodeJS.Platform = process.platform): { available: boolean; description: string } {
  if (item !== undefined) return { available: true, description: item.description };
  const where = ({ darwin: 'macOS', linux: 'Linux', win32: 'Windows' } as Partial<Record<NodeJS.Platform, string>>)[platform] ?? platform;
  return {
    available: false,
    description: `Berth in a browser cannot start itself at login on ${where}; use the Berth app, or start it with "berth app".`,
  };
}

/** Not offered where it cannot work: turning it on there would be a setting nothing carries out. */
export function refuseUnavailableLoginItem(item: LoginItem | undefined, change: SettingChange): void {
  const login = loginItemState(item);
  if (change.key === 'startAtLogin' && change.value && !login.available) throw new ApiError('FAILED', login.description);
}
