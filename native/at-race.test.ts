/**
 * The point of the *at() API: a user who swaps a parent directory for a
 * symlink (over and over, from another process) can never redirect an
 * operation made through a directory fd, nor sneak a symlink past
 * openDirectoryNoFollow.
 */
import { closeSync, existsSync, fstatSync, lstatSync, mkdirSync, readdirSync, realpathSync, renameSync, symlinkSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openDirectoryNoFollow, openFileAt, readlinkAt, renameAt, statAt, symlinkAt, unlinkAt } from './index';
import { closeTracked, thrown, track } from './at-test-helpers';
import { makeTempDir, removeTempDirs, startNode } from './test-helpers';

afterEach(() => {
  closeTracked();
  removeTempDirs();
});

/**
 * base/parent/target is the real directory; base/decoy/target the one an
 * attacker wants the writes in. base/parent alternates between the real
 * directory and a symlink to base/decoy.
 */
function layout(): { base: string; real: string; decoy: string } {
  const base = realpathSync(makeTempDir(0o755));
  mkdirSync(path.join(base, 'parent', 'target'), { recursive: true });
  mkdirSync(path.join(base, 'decoy', 'target'), { recursive: true });
  symlinkSync(path.join(base, 'decoy'), path.join(base, 'decoy-link'));
  return { base, real: path.join(base, 'parent', 'target'), decoy: path.join(base, 'decoy', 'target') };
}

/** Swaps base/parent with base/decoy-link `cycles` times, then creates base/done. */
const SWAPPER = `
const fs = require('fs');
const path = require('path');
const [base, cycles] = [process.argv[1], Number(process.argv[2])];
const at = (name) => path.join(base, name);
try {
  console.log('started');
  for (let i = 0; i < cycles; i++) {
    fs.renameSync(at('parent'), at('parked'));      // parent: missing
    fs.renameSync(at('decoy-link'), at('parent'));  // parent: symlink to decoy
    fs.renameSync(at('parent'), at('decoy-link'));  // parent: missing
    fs.renameSync(at('parked'), at('parent'));      // parent: the real directory
  }
} finally {
  fs.writeFileSync(at('done'), '');
}
`;

describe('racing a parent directory swap', () => {
  it('a held directory fd keeps pointing at the directory it opened', () => {
    const { base, real, decoy } = layout();
    const held = track(openDirectoryNoFollow(real).fd);
    renameSync(path.join(base, 'parent'), path.join(base, 'parked'));
    renameSync(path.join(base, 'decoy-link'), path.join(base, 'parent'));
    // A path-based write now lands in the decoy...
    writeFileSync(path.join(base, 'parent', 'target', 'by-path'), 'x');
    expect(readdirSync(decoy)).toEqual(['by-path']);
    // ...while everything through the fd stays in the real directory.
    closeSync(openFileAt(held, 'by-fd', 'create-exclusive', 0o600));
    symlinkAt('x', held, 'link');
    expect(readdirSync(path.join(base, 'parked', 'target')).sort()).toEqual(['by-fd', 'link']);
    expect(readdirSync(decoy)).toEqual(['by-path']);
    // And the swapped path itself is refused.
    expect(['ELOOP', 'ENOTDIR']).toContain(thrown(() => openDirectoryNoFollow(path.join(base, 'parent', 'target'))).code);
  });

  it('never touches the decoy while the parent is swapped thousands of times', async () => {
    const { base, real, decoy } = layout();
    const realIno = lstatSync(real).ino;
    const held = track(openDirectoryNoFollow(real).fd);
    const child = startNode(SWAPPER, [base, '40000']);
    const outcomes = new Map<string, number>();
    let iterations = 0;
    try {
      await child.waitForLine('started');
      // Synchronous on purpose: every operation below overlaps the swaps,
      // and the loop ends when the swapper is done (capped in case it dies).
      while (!existsSync(path.join(base, 'done')) && iterations < 1_000_000) {
        const i = iterations++;
        // Through the fd opened before the race.
        const file = openFileAt(held, `f${i}`, 'create-exclusive', 0o600);
        writeSync(file, 'x');
        closeSync(file);
        symlinkAt(`f${i}`, held, `l${i}`);
        renameAt(held, `l${i}`, `r${i}`);
        expect(readlinkAt(held, `r${i}`)).toBe(`f${i}`);
        expect(statAt(held, `f${i}`)?.type).toBe('file');
        unlinkAt(held, `r${i}`);
        unlinkAt(held, `f${i}`);
        // Opening the path anew: either the real directory or a refusal.
        let opened: number | undefined;
        try {
          opened = openDirectoryNoFollow(real).fd;
        } catch (error) {
          const code = String((error as { code?: unknown }).code);
          expect(['ELOOP', 'ENOTDIR', 'ENOENT']).toContain(code);
          outcomes.set(code, (outcomes.get(code) ?? 0) + 1);
        }
        if (opened !== undefined) {
          try {
            expect(fstatSync(opened).ino).toBe(realIno);
            closeSync(openFileAt(opened, `g${i}`, 'create-exclusive', 0o600));
            unlinkAt(opened, `g${i}`);
            outcomes.set('opened', (outcomes.get('opened') ?? 0) + 1);
          } finally {
            closeSync(opened);
          }
        }
      }
      const result = await child.done;
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
    } finally {
      child.kill();
    }
    expect(iterations).toBeGreaterThan(0);
    expect(iterations).toBeLessThan(1_000_000);
    // Nothing ever reached the decoy; everything was cleaned up in the real one.
    expect(readdirSync(decoy)).toEqual([]);
    expect(readdirSync(path.join(base, 'decoy'))).toEqual(['target']);
    expect(readdirSync(real)).toEqual([]);
    expect(lstatSync(path.join(base, 'parent')).isDirectory()).toBe(true);
    expect([...outcomes.values()].reduce((a, b) => a + b, 0)).toBe(iterations);
  });
});
