import { describe, expect, it } from 'vitest';
import { HELPER_LOG_NAME, helperLogPath, installLayout, systemPaths } from './paths';

const darwin = installLayout('darwin');
const linux = installLayout('linux');

describe('install layout', () => {
  it('puts the macOS socket in a folder that survives a reboot, not under /var/run (emptied at boot)', () => {
    expect(darwin.socketDir).toBe('/private/var/db/dev.berth.helper');
    expect(darwin.socketPath).toBe(`${darwin.socketDir}/helper.sock`);
    for (const emptiedAtBoot of ['/var/run/', '/private/var/run/', '/tmp/', '/private/tmp/']) {
      expect(darwin.socketPath.startsWith(emptiedAtBoot)).toBe(false);
      expect(darwin.socketDir.startsWith(emptiedAtBoot)).toBe(false);
    }
    // The client finds the socket where the service definition puts it.
    expect(systemPaths('darwin')).toEqual({ socketDir: darwin.socketDir, socketPath: darwin.socketPath });
  });

  it('keeps the Linux socket in /run/berth, which systemd (RuntimeDirectory/socket unit) or the installer recreates', () => {
    expect(systemPaths('linux')).toEqual({ socketDir: '/run/berth', socketPath: '/run/berth/helper.sock' });
  });

  it('spells every macOS path without the /etc, /var and /tmp symlinks (the no-follow walks refuse them)', () => {
    for (const path of Object.values(darwin)) expect(path).not.toMatch(/^\/(etc|var|tmp)(\/|$)/);
  });

  it('has one helper log file per layout, in its log folder', () => {
    expect(helperLogPath(darwin)).toBe(`/Library/Logs/Berth/${HELPER_LOG_NAME}`);
    expect(helperLogPath(linux)).toBe(`/var/log/berth/${HELPER_LOG_NAME}`);
  });
});
