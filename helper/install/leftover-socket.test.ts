import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { safeScratchDir } from '../../test/support/scratch';
import { removeLeftoverSocket } from './leftover-socket';

/** A socket node nobody listens on: a server killed before it could unlink it (as after launchd's bootout). */
function leaveSocket(path: string): void {
  const script = "require('net').createServer().listen(process.argv[1], () => process.kill(process.pid, 'SIGKILL'))";
  const result = spawnSync(process.execPath, ['-e', script, path]);
  expect(result.signal).toBe('SIGKILL');
  expect(lstatSync(path).isSocket()).toBe(true);
}

describe('removeLeftoverSocket', () => {
  it('removes a dead socket node from a root-only folder, and then finds nothing', () => {
    const dir = join(safeScratchDir('berth-leftover'), 'run');
    mkdirSync(dir, { mode: 0o755 });
    const socketPath = join(dir, 'helper.sock');
    leaveSocket(socketPath);
    expect(removeLeftoverSocket(socketPath)).toEqual({ action: 'removed' });
    expect(existsSync(socketPath)).toBe(false);
    expect(removeLeftoverSocket(socketPath)).toEqual({ action: 'none' });
  });

  it('finds nothing where the folder itself is gone', () => {
    const missing = join(safeScratchDir('berth-leftover'), 'gone', 'helper.sock');
    expect(removeLeftoverSocket(missing)).toEqual({ action: 'none' });
  });

  it.each([
    ['a file', (path: string) => writeFileSync(path, 'precious'), 'is a file, not a socket'],
    ['a folder', (path: string) => mkdirSync(path), 'is a directory, not a socket'],
  ])('keeps %s at the path and says what it is', (_what, plant, reason) => {
    const dir = safeScratchDir('berth-leftover');
    const socketPath = join(dir, 'helper.sock');
    plant(socketPath);
    expect(removeLeftoverSocket(socketPath)).toEqual({ action: 'kept', reason });
    expect(existsSync(socketPath)).toBe(true);
    if (lstatSync(socketPath).isFile()) expect(readFileSync(socketPath, 'utf8')).toBe('precious');
  });

  it('touches nothing in a folder others can write to', () => {
    const open = mkdtempSync(join(tmpdir(), 'berth-leftover-'));
    try {
      chmodSync(open, 0o777);
      const socketPath = join(open, 'helper.sock');
      leaveSocket(socketPath);
      expect(() => removeLeftoverSocket(socketPath)).toThrow(/is writable by everyone .*refusing to write under it as root, nothing was changed/);
      expect(lstatSync(socketPath).isSocket()).toBe(true);
    } finally {
      rmSync(open, { recursive: true, force: true });
    }
  });
});
