/**
 * Helpers for the *at() tests (not a test file itself): real directories in
 * a temporary directory, opened with openDirectoryNoFollow.
 */
import { closeSync, lstatSync, readdirSync, readlinkSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';
import { openDirectoryNoFollow } from './index';
import { builtAddonPath, makeTempDir } from './test-helpers';

type AnyFunction = (...args: unknown[]) => unknown;

/** The *at() exports, untyped: tests call them with anything. */
export type AtApi = Record<
  'openDirectoryNoFollow' | 'statAt' | 'readlinkAt' | 'symlinkAt' | 'renameAt' | 'unlinkAt' | 'openFileAt' | 'fsyncDirectory',
  AnyFunction
>;

/** The addon itself, with no TypeScript checks in front. */
export function rawAddon(): AtApi {
  const mod: { exports: unknown } = { exports: {} };
  process.dlopen(mod, builtAddonPath());
  return mod.exports as AtApi;
}

const openFds: number[] = [];

/** Remember an fd to close in {@link closeTracked}. */
export function track(fd: number): number {
  openFds.push(fd);
  return fd;
}

export function closeTracked(): void {
  for (const fd of openFds.splice(0)) closeSync(fd);
}

/** A fresh temporary directory (symlink-free spelling) and an fd for it. */
export function openedTempDir(mode = 0o700): { dir: string; fd: number } {
  const dir = realpathSync(makeTempDir(mode));
  return { dir, fd: track(openDirectoryNoFollow(dir).fd) };
}

/** Names, types, sizes and link targets of everything in `dir` (recursively). */
export function snapshot(dir: string): string[] {
  const entries: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const file = path.join(dir, name);
    const stat = lstatSync(file);
    if (stat.isSymbolicLink()) entries.push(`${name} -> ${readlinkSync(file)}`);
    else if (stat.isDirectory()) entries.push(`${name}/`, ...snapshot(file).map((entry) => `${name}/${entry}`));
    else entries.push(`${name} (${stat.size} bytes, ${(stat.mode & 0o7777).toString(8)})`);
  }
  return entries;
}

/** Whatever `fn` throws (fails the test if it returns). */
export function thrown(fn: () => unknown): Error & { code?: unknown; errno?: unknown; syscall?: unknown; path?: unknown; dest?: unknown } {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(Error);
    return error as Error;
  }
  throw new Error('expected a throw');
}

/** A system error with one of `codes`, naming `file` in `path` and the message. */
export function expectPathError(fn: () => unknown, codes: string[], file: string): void {
  const error = thrown(fn);
  expect(codes).toContain(error.code);
  expect(typeof error.errno).toBe('number');
  expect(typeof error.syscall).toBe('string');
  expect(error.path).toBe(file);
  expect(error.message).toContain(`'${file}'`);
}

/** An argument error: class and code. */
export function expectArgumentError(fn: () => unknown, kind: typeof TypeError | typeof RangeError, code: string): Error {
  const error = thrown(fn);
  expect(error).toBeInstanceOf(kind);
  expect(error.code).toBe(code);
  return error;
}
