import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { helperProgramFiles, programDigest } from './program-digest';

const dir = mkdtempSync(join(tmpdir(), 'berth-digest-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
function file(bytes: Uint8Array): string {
  const path = join(dir, `f${n++}`);
  writeFileSync(path, bytes);
  return path;
}

describe('programDigest', () => {
  it('is the same for the same names and bytes, in any order, and different when any byte or name differs', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 3000 }), fc.uint8Array({ maxLength: 3000 }), fc.nat(), (a, b, flip) => {
        const files = [
          { name: 'berth-helper', path: file(a) },
          { name: 'berth_native.node', path: file(b) },
        ];
        const digest = programDigest(files);
        expect(digest).toMatch(/^[0-9a-f]{64}$/);
        expect(programDigest([...files].reverse())).toBe(digest);
        // One byte changed (or one added to an empty file): another program.
        const changed = Uint8Array.from(a.length === 0 ? [0] : a);
        if (a.length > 0) changed[flip % a.length]! ^= 0xff;
        expect(programDigest([{ name: 'berth-helper', path: file(changed) }, files[1]!])).not.toBe(digest);
        // The same bytes under another name: another program too.
        expect(programDigest([{ name: 'berth-helper.js', path: files[0]!.path }, files[1]!])).not.toBe(digest);
      }),
      { numRuns: 50 },
    );
  });

  it('tells moved bytes apart: the boundary between files is part of what is hashed', () => {
    const whole = [
      { name: 'a', path: file(Buffer.from('xy')) },
      { name: 'b', path: file(Buffer.from('')) },
    ];
    const split = [
      { name: 'a', path: file(Buffer.from('x')) },
      { name: 'b', path: file(Buffer.from('y')) },
    ];
    expect(programDigest(whole)).not.toBe(programDigest(split));
  });

  it('reads files larger than one chunk whole', () => {
    const big = Buffer.alloc(3 * 1024 * 1024 + 5, 7);
    const bigger = Buffer.concat([big, Buffer.from([1])]);
    expect(programDigest([{ name: 'x', path: file(big) }])).not.toBe(programDigest([{ name: 'x', path: file(bigger) }]));
  });

  it('names the helper files as the installer installs them: the entry, and the addon beside it', () => {
    expect(helperProgramFiles('/opt/Berth/resources/helper/berth-helper')).toEqual([
      { name: 'berth-helper', path: '/opt/Berth/resources/helper/berth-helper' },
      { name: 'berth_native.node', path: '/opt/Berth/resources/helper/berth_native.node' },
    ]);
    expect(helperProgramFiles('/x/dist/helper/berth-helper.js', '/x/build/Release/berth_native.node')[1]).toEqual({
      name: 'berth_native.node',
      path: '/x/build/Release/berth_native.node',
    });
  });

  it('fails on a missing file rather than hashing what is there', () => {
    expect(() => programDigest([{ name: 'x', path: join(dir, 'absent') }])).toThrow(/ENOENT/);
  });
});
