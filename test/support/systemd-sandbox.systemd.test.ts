import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { bootSystemdSandbox, type SystemdSandbox } from './systemd-sandbox';

/** The sandbox itself: it must fail clearly, and leave nothing of itself on the machine. */

const users = inject('users');

function mountedOnMachine(path: string): boolean {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .some((line) => line.split(' ')[4] === path);
}

describe('the systemd sandbox', () => {
  it('says what to install when systemd is missing, before mounting anything', async () => {
    const mounts = readFileSync('/proc/self/mountinfo', 'utf8');
    await expect(bootSystemdSandbox({ systemd: '/nonexistent/systemd' })).rejects.toThrow(
      "/nonexistent/systemd is missing: the systemd suite boots Debian's systemd (apt-get install systemd; scripts/test-deps.sh does)",
    );
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).toBe(mounts);
  });

  it("a boot that cannot reach its target fails with systemd's console log, and is cleaned up", async () => {
    const sandboxMounts = (): string[] =>
      readFileSync('/proc/self/mountinfo', 'utf8')
        .split('\n')
        .filter((line) => line.includes(' - tmpfs berth-systemd '));
    const before = sandboxMounts();
    const error = await bootSystemdSandbox({ target: 'berth-no-such.target', bootTimeoutMs: 20_000 }).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(error?.message).toMatch(/systemd/);
    expect(error?.message).toContain('--- console (the boot script, then systemd) ---');
    // systemd's own words, from its console.
    expect(error?.message).toContain('Unit berth-no-such.target not found.');
    expect(sandboxMounts()).toEqual(before);
  });

  it("boots, runs commands as root and as the test user, leaves the machine's /tmp alone, and stop() leaves nothing", async () => {
    // systemd's boot empties /tmp (tmpfiles "D /tmp"): on the machine's /tmp that would take this file with it.
    const outside = mkdtempSync(join(tmpdir(), 'berth-sandbox-'));
    const marker = join(outside, 'still-here');
    writeFileSync(marker, 'mine');
    let sandbox: SystemdSandbox | undefined;
    try {
      sandbox = await bootSystemdSandbox();
      expect(sandbox.bootState).toMatch(/^(running|degraded)/);
      expect((await sandbox.run(['id', '-u'])).trim()).toBe('0');
      expect((await sandbox.run(['id', '-u'], { asUser: users.test })).trim()).toBe(String(users.test.uid));
      // PID 1 inside is systemd; the sandbox's /tmp is its own.
      expect((await sandbox.run(['readlink', '/proc/1/exe'])).trim()).toMatch(/\/systemd$/);
      expect((await sandbox.exec(['test', '-e', marker])).code).toBe(1);
      await sandbox.run(['touch', '/etc/berth-sandbox-wrote-this']);
      expect(existsSync(join(sandbox.upperDir, 'etc/berth-sandbox-wrote-this'))).toBe(true);
      expect(existsSync('/etc/berth-sandbox-wrote-this')).toBe(false);
    } finally {
      await sandbox?.stop();
    }
    expect(readFileSync(marker, 'utf8')).toBe('mine');
    rmSync(outside, { recursive: true });
    expect(existsSync(`/proc/${sandbox!.pid}/exe`) && readFileSync(`/proc/${sandbox!.pid}/comm`, 'utf8').trim() === 'systemd').toBe(false);
    expect(existsSync(sandbox!.cgroup)).toBe(false);
    expect(mountedOnMachine(join(sandbox!.upperDir, '..'))).toBe(false);
    await sandbox!.stop(); // twice is fine
  });
});
