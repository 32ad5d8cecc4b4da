import { mkdtempSync, readdirSync, readFileSync, statSync, symlinkSync, utimesSync, writeFileSync, mkdirSync, chownSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { ensurePrivateDirectory, STALE_TEMP_AGE_MS, sweepStaleTemps, writeFileAtomic } from './user-file';

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

describe('sweepStaleTemps: what an interrupted atomic write left', () => {
  const old = (path: string): void => utimesSync(path, new Date(Date.now() - 3_600_000), new Date(Date.now() - 3_600_000));

  test('removes our old temp files only: not a young one (a write in progress), a link, another name, or the file itself', () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-uf-'));
    const path = join(dir, 'mappings.json');
    writeFileSync(path, '{"version":1,"mappings":[]}');
    const stale = ['.mappings.json.0123456789ab.tmp', '.mappings.json.ffffffffffff.tmp'];
    for (const name of stale) writeFileSync(join(dir, name), '{"ver');
    writeFileSync(join(dir, '.mappings.json.aaaaaaaaaaaa.tmp'), 'young');
    const victim = join(dir, 'victim');
    writeFileSync(victim, 'keep');
    symlinkSync(victim, join(dir, '.mappings.json.bbbbbbbbbbbb.tmp'));
    writeFileSync(join(dir, '.mappings.json.notours.tmp'), 'x');
    writeFileSync(join(dir, '.settings.json.cccccccccccc.tmp'), 'another file');
    for (const name of [...stale, 'mappings.json', '.mappings.json.notours.tmp', '.settings.json.cccccccccccc.tmp']) old(join(dir, name));

    expect(sweepStaleTemps(path)).toBe(2);
    expect(readdirSync(dir).sort()).toEqual(
      ['.mappings.json.aaaaaaaaaaaa.tmp', '.mappings.json.bbbbbbbbbbbb.tmp', '.mappings.json.notours.tmp', '.settings.json.cccccccccccc.tmp', 'mappings.json', 'victim'].sort(),
    );
    expect(readFileSync(victim, 'utf8')).toBe('keep');
    expect(readFileSync(path, 'utf8')).toBe('{"version":1,"mappings":[]}');
    // Once it is old too, the young one goes on the next start.
    expect(sweepStaleTemps(path, Date.now() + STALE_TEMP_AGE_MS + 1_000)).toBe(1);
  });

  test('a folder that does not exist yet has nothing to sweep', () => {
    expect(sweepStaleTemps(join(tmpdir(), 'berth-uf-none', 'x', 'settings.json'))).toBe(0);
  });
});
