import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { safeScratchDir } from '../../test/support/scratch';
import { discardRemovalRequest, readRemovalRequest, recordRemovalRequest, REMOVAL_REQUEST_NAME } from './removal-request';

let root: string;
let stateDir: string;
let record: string;

beforeEach(() => {
  root = safeScratchDir('berth-removal-request');
  stateDir = join(root, 'state');
  record = join(stateDir, REMOVAL_REQUEST_NAME);
});

describe('the removal request the uninstall operation leaves for systemd', () => {
  it('is written root-only and whole, holds who asked and when, and reads back as written', () => {
    const at = new Date('2026-12-03T12:00:00.000Z');
    expect(recordRemovalRequest(stateDir, 1234, at)).toEqual({ version: 1, uid: 1234, requestedAt: '2026-12-03T12:00:00.000Z' });
    const st = lstatSync(record);
    expect({ mode: st.mode & 0o7777, uid: st.uid, gid: st.gid }).toEqual({ mode: 0o600, uid: 0, gid: 0 });
    // The state dir was made as the helper makes it; no temp file is left beside the record.
    expect(lstatSync(stateDir).mode & 0o7777).toBe(0o755);
    expect(readdirSync(stateDir)).toEqual([REMOVAL_REQUEST_NAME]);
    expect(readRemovalRequest(stateDir)).toEqual({ request: { version: 1, uid: 1234, requestedAt: '2026-12-03T12:00:00.000Z' } });
    // Root asking over the socket is recorded as uid 0.
    recordRemovalRequest(stateDir, 0, at);
    expect(readRemovalRequest(stateDir)).toEqual({ request: { version: 1, uid: 0, requestedAt: '2026-12-03T12:00:00.000Z' } });
  });

  it('refuses to record a uid that could not be enrolled, writing nothing', () => {
    for (const uid of [-1, 1.5, 0x1_0000_0000]) {
      expect(() => recordRemovalRequest(stateDir, uid)).toThrow();
    }
    expect(existsSync(stateDir)).toBe(false);
  });

  it('is absent when there is none, or no state dir at all', () => {
    expect(readRemovalRequest(stateDir)).toBeUndefined();
    mkdirSync(stateDir, { mode: 0o755 });
    expect(readRemovalRequest(stateDir)).toBeUndefined();
  });

  it.each([
    ['not JSON', 'uid=1000', 'is not JSON'],
    ['a path beside the uid', JSON.stringify({ version: 1, uid: 1000, requestedAt: '2026-12-03T12:00:00.000Z', path: '/etc' }), 'not a removal request'],
    ['a command for a uid', JSON.stringify({ version: 1, uid: 'rm -rf /', requestedAt: '2026-12-03T12:00:00.000Z' }), 'not a removal request'],
    ['a negative uid', JSON.stringify({ version: 1, uid: -1, requestedAt: '2026-12-03T12:00:00.000Z' }), 'not a removal request'],
    ['another version', JSON.stringify({ version: 2, uid: 1000, requestedAt: '2026-12-03T12:00:00.000Z' }), 'not a removal request'],
    ['no time', JSON.stringify({ version: 1, uid: 1000 }), 'not a removal request'],
    ['a prototype-polluting key', '{"version":1,"uid":1000,"requestedAt":"2026-12-03T12:00:00.000Z","__proto__":{"x":1}}', 'not a removal request'],
    ['too large to be ours', JSON.stringify({ version: 1, uid: 1000, requestedAt: '2026-12-03T12:00:00.000Z', pad: 'x'.repeat(2000) }), 'larger than'],
  ])('reads %s as a problem, never as a request', (_name, content, problem) => {
    mkdirSync(stateDir, { mode: 0o755 });
    writeFileSync(record, content, { mode: 0o600 });
    const read = readRemovalRequest(stateDir);
    expect(read).toEqual({ problem: expect.stringContaining(problem) });
    expect(read).not.toHaveProperty('request');
  });

  it('does not follow a link at its name, nor read from a state dir others could write', () => {
    mkdirSync(stateDir, { mode: 0o755 });
    const elsewhere = join(root, 'elsewhere.json');
    writeFileSync(elsewhere, JSON.stringify({ version: 1, uid: 1000, requestedAt: '2026-12-03T12:00:00.000Z' }));
    symlinkSync(elsewhere, record);
    expect(readRemovalRequest(stateDir)).toEqual({ problem: expect.stringContaining(`cannot read ${record}`) });

    discardRemovalRequest(stateDir);
    recordRemovalRequest(stateDir, 1000);
    chmodSync(stateDir, 0o777);
    expect(readRemovalRequest(stateDir)).toEqual({ problem: expect.stringMatching(/writable/) });
    chmodSync(stateDir, 0o755);
  });

  it('is discarded whatever it holds (a link itself, not its target); a directory of that name is not ours', () => {
    expect(discardRemovalRequest(stateDir)).toBe(false);
    recordRemovalRequest(stateDir, 1000);
    expect(discardRemovalRequest(stateDir)).toBe(true);
    expect(existsSync(record)).toBe(false);
    expect(discardRemovalRequest(stateDir)).toBe(false);

    const target = join(root, 'target');
    writeFileSync(target, 'keep');
    symlinkSync(target, record);
    expect(discardRemovalRequest(stateDir)).toBe(true);
    expect(readFileSync(target, 'utf8')).toBe('keep');

    mkdirSync(record);
    expect(discardRemovalRequest(stateDir)).toBe(false);
    expect(lstatSync(record).isDirectory()).toBe(true);
  });
});
