/**
 * The name rules of every *at() export: one path component, non-empty, at
 * most 255 bytes, no '/', no NUL, not '.' or '..'. A violation is an argument
 * error thrown before any syscall, by the wrapper and by the addon alike.
 */
import { closeSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import * as wrapper from './index';
import { closeTracked, expectArgumentError, openedTempDir, rawAddon, snapshot, type AtApi } from './at-test-helpers';
import { removeTempDirs } from './test-helpers';

type Call = (api: AtApi, dirfd: number, name: unknown) => unknown;

/** Each export with `name` in each of its name positions (the others valid). */
const CALLS: Record<string, Call> = {
  statAt: (api, fd, name) => api.statAt(fd, name),
  readlinkAt: (api, fd, name) => api.readlinkAt(fd, name),
  symlinkAt: (api, fd, name) => api.symlinkAt('target', fd, name),
  'renameAt from': (api, fd, name) => api.renameAt(fd, name, 'renamed'),
  'renameAt to': (api, fd, name) => api.renameAt(fd, 'file', name),
  unlinkAt: (api, fd, name) => api.unlinkAt(fd, name),
  'openFileAt read': (api, fd, name) => api.openFileAt(fd, name, 'read'),
  'openFileAt create-exclusive': (api, fd, name) => api.openFileAt(fd, name, 'create-exclusive', 0o600),
  'openFileAt overwrite': (api, fd, name) => api.openFileAt(fd, name, 'overwrite'),
};

const BAD_NAMES: [string, string, typeof TypeError | typeof RangeError][] = [
  ['a/b', 'a/b', TypeError],
  ['a name through the symlink', 'link/file', TypeError],
  ['a trailing slash', 'file/', TypeError],
  ['/', '/', TypeError],
  ['an absolute path', '/etc/hosts', TypeError],
  ['..', '..', TypeError],
  ['.', '.', TypeError],
  ['empty', '', TypeError],
  ['NUL', 'x\0y', TypeError],
  ['a name cut short by NUL', 'file\0', TypeError],
  ['a lone surrogate', 'x\ud800', TypeError],
  ['256 bytes', 'a'.repeat(256), RangeError],
  ['256 bytes of 2-byte characters', 'é'.repeat(128), RangeError],
];

let dir: string;
let fd: number;
let raw: AtApi;
const wrapped = wrapper as unknown as AtApi;

beforeEach(() => {
  ({ dir, fd } = openedTempDir());
  writeFileSync(path.join(dir, 'file'), 'content');
  mkdirSync(path.join(dir, 'sub'));
  writeFileSync(path.join(dir, 'sub', 'file'), 'inner');
  symlinkSync('sub', path.join(dir, 'link'));
  raw = rawAddon();
});

afterEach(() => {
  closeTracked();
  removeTempDirs();
});

describe('name rules', () => {
  for (const [label, name, kind] of BAD_NAMES) {
    it(`refuses ${label} in every position, touching nothing`, () => {
      const before = snapshot(dir);
      for (const [callName, call] of Object.entries(CALLS)) {
        const fromWrapper = expectArgumentError(() => call(wrapped, fd, name), kind, 'ERR_INVALID_ARG_VALUE');
        const fromAddon = expectArgumentError(() => call(raw, fd, name), kind, 'ERR_INVALID_ARG_VALUE');
        expect(fromAddon.message, callName).toBe(fromWrapper.message);
        // No syscall is made: with a descriptor that is not open, the
        // argument error still wins over EBADF.
        expectArgumentError(() => call(raw, 2 ** 31 - 1, name), kind, 'ERR_INVALID_ARG_VALUE');
      }
      expect(snapshot(dir)).toEqual(before);
    });
  }

  it('refuses non-string names with ERR_INVALID_ARG_TYPE', () => {
    const before = snapshot(dir);
    for (const name of [undefined, null, 1, Buffer.from('file'), ['file'], { toString: () => 'file' }]) {
      for (const call of Object.values(CALLS)) {
        expectArgumentError(() => call(wrapped, fd, name), TypeError, 'ERR_INVALID_ARG_TYPE');
        expectArgumentError(() => call(raw, fd, name), TypeError, 'ERR_INVALID_ARG_TYPE');
      }
    }
    expect(snapshot(dir)).toEqual(before);
  });

  it('refuses a dirfd that is not a non-negative integer (AT_FDCWD included)', () => {
    const before = snapshot(dir);
    for (const dirfd of [-100, -1, 1.5, 2 ** 31, NaN]) {
      for (const call of Object.values(CALLS)) {
        expectArgumentError(() => call(wrapped, dirfd, 'file'), RangeError, 'ERR_OUT_OF_RANGE');
        expectArgumentError(() => call(raw, dirfd, 'file'), RangeError, 'ERR_OUT_OF_RANGE');
      }
    }
    expect(snapshot(dir)).toEqual(before);
  });

  it('accepts every other component: 255 bytes, dots, spaces, unicode', () => {
    for (const name of ['a'.repeat(255), `${'é'.repeat(127)}x`, '...', '.hidden', 'with space', '🚢', '-', '\\', 'a\nb']) {
      expect(wrapper.statAt(fd, name), name).toBeNull();
      closeSync(wrapper.openFileAt(fd, name, 'create-exclusive', 0o600));
      // Created right here, under exactly this name.
      expect(readdirSync(dir)).toContain(name);
      wrapper.unlinkAt(fd, name);
      expect(raw.statAt(fd, name)).toBeNull();
    }
  });
});
