/**
 * statAt, readlinkAt, symlinkAt, renameAt, unlinkAt and fsyncDirectory on
 * real files: none of them ever follows a symlink at the name.
 */
import {
  existsSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  symlinkSync,
  writeFileSync,
  chmodSync,
} from 'node:fs';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { fsyncDirectory, openDirectoryNoFollow, readlinkAt, renameAt, statAt, symlinkAt, unlinkAt } from './index';
import { closeTracked, expectArgumentError, expectPathError, openedTempDir, thrown, track } from './at-test-helpers';
import { expectSystemError, listenUnix, removeTempDirs } from './test-helpers';

afterEach(() => {
  closeTracked();
  removeTempDirs();
});

describe('statAt', () => {
  it('describes a file exactly as lstat does', () => {
    const { dir, fd } = openedTempDir();
    const file = path.join(dir, 'file');
    writeFileSync(file, 'hello');
    chmodSync(file, 0o4640);
    const expected = lstatSync(file, { bigint: true });
    const stat = statAt(fd, 'file');
    expect(stat).toMatchObject({
      type: 'file',
      uid: Number(expected.uid),
      gid: Number(expected.gid),
      mode: 0o4640,
      nlink: 1,
      size: 5,
      ino: Number(expected.ino),
      dev: Number(expected.dev),
    });
    expect(Math.abs((stat?.mtimeMs ?? 0) - Number(expected.mtimeNs) / 1e6)).toBeLessThan(0.001);
  });

  it('reports a symlink as a symlink, never following it', () => {
    const { dir, fd } = openedTempDir();
    mkdirSync(path.join(dir, 'target'));
    symlinkSync(path.join(dir, 'target'), path.join(dir, 'link'));
    symlinkSync('nowhere', path.join(dir, 'dangling'));
    expect(statAt(fd, 'target')?.type).toBe('directory');
    const link = statAt(fd, 'link');
    expect(link?.type).toBe('symlink');
    expect(link?.ino).toBe(lstatSync(path.join(dir, 'link')).ino);
    expect(link?.size).toBe(path.join(dir, 'target').length);
    expect(statAt(fd, 'dangling')?.type).toBe('symlink');
  });

  it('names sockets, FIFOs and character devices', async () => {
    const { dir, fd } = openedTempDir();
    execFileSync('mkfifo', [path.join(dir, 'fifo')]);
    expect(statAt(fd, 'fifo')?.type).toBe('fifo');
    const unix = await listenUnix();
    try {
      const socketDir = track(openDirectoryNoFollow(path.dirname(unix.socketPath)).fd);
      expect(statAt(socketDir, path.basename(unix.socketPath))?.type).toBe('socket');
    } finally {
      await unix.close();
    }
    const dev = track(openDirectoryNoFollow('/dev').fd);
    expect(statAt(dev, 'null')?.type).toBe('char');
  });

  it('returns null for a missing name, and throws for a bad dirfd', () => {
    const { dir, fd } = openedTempDir();
    expect(statAt(fd, 'missing')).toBeNull();
    const file = track(openSync(path.join(dir, 'file'), 'w'));
    expectSystemError(() => statAt(file, 'x'), 'ENOTDIR');
    expectSystemError(() => statAt(2 ** 31 - 1, 'x'), 'EBADF');
  });
});

describe('readlinkAt / symlinkAt', () => {
  it('creates a link and reads its target back, without resolving it', () => {
    const { dir, fd } = openedTempDir();
    for (const [name, target] of [
      ['absolute', '/etc/hosts'],
      ['relative', '../elsewhere/x'],
      ['unicode', 'é🚢/ü'],
      ['longest', 'x'.repeat(4095)], // Linux's longest symlink target
    ] as const) {
      symlinkAt(target, fd, name);
      expect(readlinkSync(path.join(dir, name))).toBe(target);
      expect(readlinkAt(fd, name)).toBe(target);
    }
  });

  it('refuses to read a non-link (EINVAL) or a missing name (ENOENT)', () => {
    const { dir, fd } = openedTempDir();
    writeFileSync(path.join(dir, 'file'), 'x');
    expectPathError(() => readlinkAt(fd, 'file'), ['EINVAL'], 'file');
    expectPathError(() => readlinkAt(fd, 'missing'), ['ENOENT'], 'missing');
  });

  it('throws EILSEQ for a target that is not valid UTF-8, rather than altering it', () => {
    const { dir, fd } = openedTempDir();
    symlinkSync(Buffer.from([0x61, 0xff, 0x62]), path.join(dir, 'binary'));
    expectPathError(() => readlinkAt(fd, 'binary'), ['EILSEQ'], 'binary');
  });

  it('fails with EEXIST when anything is at the name, even a dangling link', () => {
    const { dir, fd } = openedTempDir();
    writeFileSync(path.join(dir, 'file'), 'keep');
    mkdirSync(path.join(dir, 'dir'));
    symlinkSync('nowhere', path.join(dir, 'dangling'));
    const before = readdirSync(dir).sort();
    for (const name of ['file', 'dir', 'dangling']) expectPathError(() => symlinkAt('new', fd, name), ['EEXIST'], name);
    expect(readdirSync(dir).sort()).toEqual(before);
    expect(readFileSync(path.join(dir, 'file'), 'utf8')).toBe('keep');
    expect(readlinkSync(path.join(dir, 'dangling'))).toBe('nowhere');
    expect(existsSync(path.join(dir, 'nowhere'))).toBe(false);
  });

  it('checks the target: non-empty, no NUL, at most 4096 bytes', () => {
    const { dir, fd } = openedTempDir();
    expectArgumentError(() => symlinkAt('', fd, 'l'), TypeError, 'ERR_INVALID_ARG_VALUE');
    expectArgumentError(() => symlinkAt('a\0b', fd, 'l'), TypeError, 'ERR_INVALID_ARG_VALUE');
    expectArgumentError(() => symlinkAt('x'.repeat(4097), fd, 'l'), RangeError, 'ERR_INVALID_ARG_VALUE');
    expectArgumentError(() => symlinkAt(1 as unknown as string, fd, 'l'), TypeError, 'ERR_INVALID_ARG_TYPE');
    // 4096 bytes passes our check; Linux itself allows at most 4095.
    expect(thrown(() => symlinkAt('x'.repeat(4096), fd, 'l')).code).toBe('ENAMETOOLONG');
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe('renameAt', () => {
  it('atomically replaces an existing symlink, leaving the old target alone', () => {
    const { dir, fd } = openedTempDir();
    writeFileSync(path.join(dir, 'v1'), 'one');
    writeFileSync(path.join(dir, 'v2'), 'two');
    symlinkAt('v1', fd, 'current');
    symlinkAt('v2', fd, 'current.new');
    renameAt(fd, 'current.new', 'current');
    expect(readlinkSync(path.join(dir, 'current'))).toBe('v2');
    expect(existsSync(path.join(dir, 'current.new'))).toBe(false);
    expect(readFileSync(path.join(dir, 'v1'), 'utf8')).toBe('one');
    expect(readdirSync(dir).sort()).toEqual(['current', 'v1', 'v2']);
    fsyncDirectory(fd);
  });

  it('replaces a symlink to a directory instead of moving into that directory', () => {
    const { dir, fd } = openedTempDir();
    mkdirSync(path.join(dir, 'elsewhere'));
    symlinkSync(path.join(dir, 'elsewhere'), path.join(dir, 'entry'));
    writeFileSync(path.join(dir, 'entry.new'), 'replacement');
    renameAt(fd, 'entry.new', 'entry');
    expect(statAt(fd, 'entry')?.type).toBe('file');
    expect(readFileSync(path.join(dir, 'entry'), 'utf8')).toBe('replacement');
    expect(readdirSync(path.join(dir, 'elsewhere'))).toEqual([]);
  });

  it('moves a symlink itself, not its target', () => {
    const { dir, fd } = openedTempDir();
    writeFileSync(path.join(dir, 'target'), 'x');
    symlinkAt('target', fd, 'a');
    renameAt(fd, 'a', 'b');
    expect(readlinkSync(path.join(dir, 'b'))).toBe('target');
    expect(readFileSync(path.join(dir, 'target'), 'utf8')).toBe('x');
  });

  it('names both sides when it fails', () => {
    const { fd } = openedTempDir();
    const error = thrown(() => renameAt(fd, 'missing', 'to'));
    expect(error.code).toBe('ENOENT');
    expect(error.path).toBe('missing');
    expect(error.dest).toBe('to');
    expect(error.message).toBe("ENOENT: no such file or directory, renameat 'missing' -> 'to'");
  });
});

describe('unlinkAt', () => {
  it('removes a symlink, never its target (file or directory)', () => {
    const { dir, fd } = openedTempDir();
    writeFileSync(path.join(dir, 'file'), 'keep');
    mkdirSync(path.join(dir, 'dir'));
    writeFileSync(path.join(dir, 'dir', 'inner'), 'keep');
    symlinkSync(path.join(dir, 'file'), path.join(dir, 'to-file'));
    symlinkSync(path.join(dir, 'dir'), path.join(dir, 'to-dir'));
    unlinkAt(fd, 'to-file');
    unlinkAt(fd, 'to-dir');
    expect(readdirSync(dir).sort()).toEqual(['dir', 'file']);
    expect(readFileSync(path.join(dir, 'file'), 'utf8')).toBe('keep');
    expect(readdirSync(path.join(dir, 'dir'))).toEqual(['inner']);
  });

  it('never removes a directory, even an empty one', () => {
    const { dir, fd } = openedTempDir();
    mkdirSync(path.join(dir, 'empty'));
    expectPathError(() => unlinkAt(fd, 'empty'), ['EISDIR', 'EPERM'], 'empty');
    expect(lstatSync(path.join(dir, 'empty')).isDirectory()).toBe(true);
    expectPathError(() => unlinkAt(fd, 'missing'), ['ENOENT'], 'missing');
  });
});

describe('fsyncDirectory', () => {
  it('syncs a directory fd and refuses anything else', () => {
    const { dir, fd } = openedTempDir();
    fsyncDirectory(fd);
    const file = track(openSync(path.join(dir, 'file'), 'w'));
    expectSystemError(() => fsyncDirectory(file), 'ENOTDIR');
    expectSystemError(() => fsyncDirectory(2 ** 31 - 1), 'EBADF');
    expectArgumentError(() => fsyncDirectory(-1), RangeError, 'ERR_OUT_OF_RANGE');
  });
});
