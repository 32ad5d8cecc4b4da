import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { ensurePrivateDirectory, writeFileAtomic } from './fs/user-file';
import type { LoginItem } from './system-settings';

/**
 * Start at login for browser mode on Linux: an XDG autostart entry
 * (~/.config/autostart/berth.desktop). The Electron app uses Electron's own
 * login items instead.
 */
export function xdgAutostart(configHome: string, command: readonly string[]): LoginItem {
  const dir = join(configHome, 'autostart');
  const path = join(dir, 'berth.desktop');
  return {
    set(enabled) {
      if (!enabled) return void rmSync(path, { force: true });
      ensurePrivateDirectory(dir);
      // Desktop-entry Exec quoting: each argument in double quotes, with \ " ` $ escaped.
      const exec = command.map((a) => `"${a.replace(/[\\"`$]/g, (c) => `\\${c}`)}"`).join(' ');
      writeFileAtomic(path, `[Desktop Entry]\nType=Application\nName=Berth\nExec=${exec}\nX-GNOME-Autostart-enabled=true\n`, 0o644);
    },
  };
}
