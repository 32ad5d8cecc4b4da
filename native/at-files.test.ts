/**
 * openFileAt: regular files only, never through a symlink, with exact
 * create/rewrite semantics and close-on-exec descriptors.
 */
import { execFileSync } from 'node:child_process';
import {
  closeSync,
  existsSync,
  fstatSync,
  ftruncateSync,
  mkdirSync,
  readFileSync,
  readSync,
  readdirSync,
  readlinkSync,
  symlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openFileAt, type OpenFileMode } from './index';
import { closeTracked, expectArgumentError, expectPathError, openedTempDir, rawAddon, track } from './at-test-helpers';
import { O_CLOEXEC, O_NONBLOCK, fdFlags, removeTempDirs } from './test-helpers';

afterEach(() => {
  closeTracked();
  removeTempDirs();
});

const O_ACCMODE = 3;
const O_WRONLY = 1;

/** Run `fn` with the process umask set to `mask`, restoring it afterwards. */
function withUmask<T>(mask: number, fn: () => T): T {
  const previous = process.umask(mask);
  try {
    return fn();
  } finally {
    process.umask(previous);
  }
}

describe("openFileAt 'read'", () => {
  it('reads a regular file through a close-on-exec, blocking fd', () => {
    const { dir, fd } = openedTempDir();
    writeFileSync(path.join(dir, 'hosts'), '127.0.0.1 localhost\n');
    const file = track(openFileAt(fd, 'hosts', 'read'));
    const buffer = Buffer.alloc(64);
    expect(buffer.toString('utf8', 0, readSync(file, buffer))).toBe('127.0.0.1 localhost\n');
    expect(fdFlags(file) & O_CLOEXEC).toBe(O_CLOEXEC);
    expect(fdFlags(file) & O_NONBLOCK).toBe(0);
    expect(fdFlags(file) & O_ACCMODE).toBe(0);
  });

  it('refuses a symlink (ELOOP), whatever it points to', () => {
    const { dir, fd } = openedTempDir();
    writeFileSync(path.join(dir, 'target'), 'secret');
    symlinkSync(path.join(dir, 'target'), path.join(dir, 'link'));
    symlinkSync('nowhere', path.join(dir, 'dangling'));
    for (const mode of ['read', 'overwrite'] as const) {
      expectPathError(() => openFileAt(fd, 'link', mode), ['ELOOP'], 'link');
      expectPathError(() => openFileAt(fd, 'dangling', mode), ['ELOOP'], 'dangling');
    }
    expect(readFileSync(path.join(dir, 'target'), 'utf8')).toBe('secret');
    expect(existsSync(path.join(dir, 'nowhere'))).toBe(false);
  });

  it('refuses directories (EISDIR) and FIFOs (EINVAL, without blocking)', () => {
    const { dir, fd } = openedTempDir();
    mkdirSync(path.join(dir, 'dir'));
    execFileSync('mkfifo', [path.join(dir, 'fifo')]);
    expectPathError(() => openFileAt(fd, 'dir', 'read'), ['EISDIR'], 'dir');
    expectPathError(() => openFileAt(fd, 'dir', 'overwrite'), ['EISDIR'], 'dir');
    expectPathError(() => openFileAt(fd, 'fifo', 'read'), ['EINVAL'], 'fifo');
    // O_WRONLY|O_NONBLOCK on a FIFO without a reader: ENXIO from the kernel.
    expectPathError(() => openFileAt(fd, 'fifo', 'overwrite'), ['ENXIO'], 'fifo');
    expectPathError(() => openFileAt(fd, 'missing', 'read'), ['ENOENT'], 'missing');
  });
});

describe("openFileAt 'create-exclusive'", () => {
  it('creates a new file with exactly the permissions asked for (umask 0)', () => {
    const { dir, fd } = openedTempDir();
    for (const permissions of [0o600, 0o644, 0o640, 0o777, 0o000]) {
      const name = `file-${permissions.toString(8)}`;
      const file = track(withUmask(0, () => openFileAt(fd, name, 'create-exclusive', permissions)));
      const stat = fstatSync(file);
      expect(stat.isFile()).toBe(true);
      expect(stat.mode & 0o7777).toBe(permissions);
      expect(stat.size).toBe(0);
      expect(fdFlags(file) & O_ACCMODE).toBe(O_WRONLY);
      expect(fdFlags(file) & O_CLOEXEC).toBe(O_CLOEXEC);
      expect(fdFlags(file) & O_NONBLOCK).toBe(0);
    }
    const file = track(openFileAt(fd, 'written', 'create-exclusive', 0o600));
    writeSync(file, 'data');
    expect(readFileSync(path.join(dir, 'written'), 'utf8')).toBe('data');
  });

  it('is subject to the umask, as open(2) is', () => {
    const { fd } = openedTempDir();
    const file = track(withUmask(0o027, () => openFileAt(fd, 'masked', 'create-exclusive', 0o666)));
    expect(fstatSync(file).mode & 0o777).toBe(0o640);
  });

  it('fails with EEXIST on an existing name, including any symlink, creating nothing', () => {
    const { dir, fd } = openedTempDir();
    writeFileSync(path.join(dir, 'existing'), 'keep');
    writeFileSync(path.join(dir, 'target'), 'target');
    symlinkSync(path.join(dir, 'absent'), path.join(dir, 'dangling'));
    symlinkSync(path.join(dir, 'target'), path.join(dir, 'link'));
    const before = readdirSync(dir).sort();
    for (const name of ['existing', 'dangling', 'link']) {
      expectPathError(() => openFileAt(fd, name, 'create-exclusive', 0o600), ['EEXIST'], name);
    }
    expect(readdirSync(dir).sort()).toEqual(before);
    expect(existsSync(path.join(dir, 'absent'))).toBe(false);
    expect(readFileSync(path.join(dir, 'existing'), 'utf8')).toBe('keep');
    expect(readFileSync(path.join(dir, 'target'), 'utf8')).toBe('target');
    expect(readlinkSync(path.join(dir, 'dangling'))).toBe(path.join(dir, 'absent'));
  });

  it('requires permissions within 0..0o777', () => {
    const { dir, fd } = openedTempDir();
    expectArgumentError(() => openFileAt(fd, 'x', 'create-exclusive'), TypeError, 'ERR_INVALID_ARG_TYPE');
    for (const bad of [-1, 0o1000, 0o4755, 0o1777, 1.5, NaN]) {
      expectArgumentError(() => openFileAt(fd, 'x', 'create-exclusive', bad), RangeError, 'ERR_OUT_OF_RANGE');
      expectArgumentError(() => rawAddon().openFileAt(fd, 'x', 'create-exclusive', bad), RangeError, 'ERR_OUT_OF_RANGE');
    }
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe("openFileAt 'overwrite'", () => {
  it('opens an existing file for writing without truncating it: the caller sets the final size', () => {
    const { dir, fd } = openedTempDir();
    writeFileSync(path.join(dir, 'hosts'), 'a much longer original content\n', { mode: 0o644 });
    const file = openFileAt(fd, 'hosts', 'overwrite');
    try {
      expect(fstatSync(file).size).toBe(31);
      expect(fdFlags(file) & O_ACCMODE).toBe(O_WRONLY);
      writeSync(file, 'new\n', 0);
      ftruncateSync(file, 4);
    } finally {
      closeSync(file);
    }
    expect(readFileSync(path.join(dir, 'hosts'), 'utf8')).toBe('new\n');
  });

  it('never creates a file', () => {
    const { dir, fd } = openedTempDir();
    expectPathError(() => openFileAt(fd, 'missing', 'overwrite'), ['ENOENT'], 'missing');
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe('openFileAt arguments', () => {
  it('accepts only the three modes, and permissions only with create-exclusive', () => {
    const { dir, fd } = openedTempDir();
    writeFileSync(path.join(dir, 'file'), 'keep');
    const api = [openFileAt as (...args: unknown[]) => unknown, rawAddon().openFileAt];
    for (const call of api) {
      for (const mode of ['write', 'READ', '', 'read\0', 'create-exclusive-x']) {
        expectArgumentError(() => call(fd, 'file', mode, 0o600), TypeError, 'ERR_INVALID_ARG_VALUE');
      }
      for (const mode of [undefined, 1, null, ['read']]) {
        expectArgumentError(() => call(fd, 'file', mode), TypeError, 'ERR_INVALID_ARG_TYPE');
      }
      for (const mode of ['read', 'overwrite'] as OpenFileMode[]) {
        for (const permissions of [0o600, 0, null, '0600']) {
          expectArgumentError(() => call(fd, 'file', mode, permissions), TypeError, 'ERR_INVALID_ARG_VALUE');
        }
      }
    }
    expect(readFileSync(path.join(dir, 'file'), 'utf8')).toBe('keep');
  });
});
