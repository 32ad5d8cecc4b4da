import { mkdtempSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync, mkdirSync, chownSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { ensurePrivateDirectory, writeFileAtomic } from './user-file';

describe('writeFileAtomic', () => {
  test('replaces the file whole, mode 0600, leaving no temp file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-uf-'));
    const path = join(dir, 'settings.json');
    writeFileSync(path, 'old');
    writeFileAtomic(path, '{"new":true}');
    expect(readFileSync(path, 'utf8')).toBe('{"new":true}');
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir)).toEqual(['settings.json']);
  });

  test('a symlink at the name is replaced, its target untouched', () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-uf-'));
    const victim = join(dir, 'victim');
    writeFileSync(victim, 'keep me');
    symlinkSync(victim, join(dir, 'settings.json'));
    writeFileAtomic(join(dir, 'settings.json'), 'x');
    expect(readFileSync(victim, 'utf8')).toBe('keep me');
    expect(readFileSync(join(dir, 'settings.json'), 'utf8')).toBe('x');
  });

  test('a missing directory fails with ENOENT and creates nothing', () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-uf-'));
    expect(() => writeFileAtomic(join(dir, 'nope/settings.json'), 'x')).toThrow(/ENOENT/);
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe('ensurePrivateDirectory', () => {
  test('creates a 0700 directory', () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'berth-uf-')), 'a/b');
    ensurePrivateDirectory(dir);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
  });

  test('refuses a symlink and a directory owned by someone else', () => {
    const base = mkdtempSync(join(tmpdir(), 'berth-uf-'));
    mkdirSync(join(base, 'real'));
    symlinkSync(join(base, 'real'), join(base, 'link'));
    expect(() => ensurePrivateDirectory(join(base, 'link'))).toThrow(/is not a directory/);
    mkdirSync(join(base, 'theirs'));
    chownSync(join(base, 'theirs'), 12345, 12345);
    expect(() => ensurePrivateDirectory(join(base, 'theirs'))).toThrow(/belongs to uid 12345, not to you/);
  });
});
