import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import type { MappingSpec } from '../../../common/ports/mapping';
import { runFixtureAs } from '../../../test/support/processes';
import { loadMappings, saveMappings } from './mappings-file';

let dir: string;
let path: string;
const at = new Date('2025-03-04T05:06:07.089Z');
const now = (): Date => at;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'berth-mappings-'));
  path = join(dir, 'config', 'mappings.json');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const web: MappingSpec = { address: '127.0.0.1', port: 80, target: { host: 'localhost', port: 8080 } };
const v6: MappingSpec = { address: '::1', port: 443, target: { host: '::1', port: 8443 } };

function writeRaw(content: string): void {
  mkdirSync(join(dir, 'config'), { recursive: true, mode: 0o700 });
  writeFileSync(path, content);
}

describe('mappings file', () => {
  it('is empty, without a notice, when there is no file', () => {
    expect(loadMappings(path, now)).toEqual({ mappings: [] });
  });

  it('saves atomically into a private directory and loads back the same mappings', () => {
    saveMappings(path, [web, v6]);
    expect(statSync(join(dir, 'config')).mode & 0o777).toBe(0o700);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual({ version: 1, mappings: [web, v6] });
    expect(readdirSync(join(dir, 'config'))).toEqual(['mappings.json']); // no temp file left behind
    expect(loadMappings(path, now)).toEqual({ mappings: [web, v6] });
    saveMappings(path, []);
    expect(loadMappings(path, now)).toEqual({ mappings: [] });
  });

  it('round-trips UDP mappings beside TCP ones (one port may be both), and loads a file written before UDP as TCP', () => {
    const dns: MappingSpec = { address: '127.0.0.1', port: 80, protocol: 'udp', target: { host: 'localhost', port: 5353 } };
    saveMappings(path, [web, dns]);
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual({ version: 1, mappings: [web, dns] });
    // TCP is written as before (no protocol), so an older Berth still reads its mappings.
    expect(JSON.parse(readFileSync(path, 'utf8')).mappings[0]).not.toHaveProperty('protocol');
    expect(loadMappings(path, now)).toEqual({ mappings: [web, dns] });
    // A file from before UDP: no protocol anywhere, loaded as TCP.
    writeRaw('{"version":1,"mappings":[{"address":"127.0.0.1","port":80,"target":{"host":"localhost","port":8080}}]}');
    expect(loadMappings(path, now)).toEqual({ mappings: [web] });
    // An explicit "tcp" (hand-written) is TCP; the same port twice over UDP is a duplicate.
    writeRaw(JSON.stringify({ version: 1, mappings: [{ ...web, protocol: 'tcp' }, dns, { ...dns, target: { host: 'x', port: 1 } }] }));
    expect(loadMappings(path, now)).toEqual({
      mappings: [{ ...web, protocol: 'tcp' }, dns],
      notice: 'mappings.json listed 127.0.0.1:80/udp more than once; the first of each was kept.',
    });
  });

  it('sets aside a file with an unknown protocol', () => {
    writeRaw(JSON.stringify({ version: 1, mappings: [{ ...web, protocol: 'sctp' }] }));
    const loaded = loadMappings(path, now);
    expect(loaded.mappings).toEqual([]);
    expect(loaded.notice).toMatch(/^Your saved port mappings could not be read \(it does not match the expected format at mappings\.0\.protocol/);
  });

  it('sweeps the temp files an interrupted save left at start, and loads the file whole', () => {
    saveMappings(path, [web]);
    const leftover = join(dir, 'config', '.mappings.json.0123456789ab.tmp');
    writeFileSync(leftover, '{"version":1,"mapp'); // torn: the crash came mid-write
    utimesSync(leftover, new Date(Date.now() - 3_600_000), new Date(Date.now() - 3_600_000));
    expect(loadMappings(path, now)).toEqual({ mappings: [web] });
    expect(readdirSync(join(dir, 'config'))).toEqual(['mappings.json']);
  });

  it('refuses to save an invalid mapping, and leaves the file as it was', () => {
    saveMappings(path, [web]);
    const before = readFileSync(path, 'utf8');
    expect(() => saveMappings(path, [{ ...web, port: 70000 }])).toThrow();
    expect(readFileSync(path, 'utf8')).toBe(before);
  });

  it.each([
    ['not JSON', '{"version": 1, "mappings": [', 'it is not valid JSON'],
    ['a wrong version', '{"version": 2, "mappings": []}', 'it does not match the expected format at version'],
    ['a bad port', JSON.stringify({ version: 1, mappings: [{ ...web, port: 0 }] }), 'it does not match the expected format at mappings.0.port'],
    ['a hostname as listen address', JSON.stringify({ version: 1, mappings: [{ ...web, address: 'localhost' }] }), 'at mappings.0.address'],
    ['an unknown key', JSON.stringify({ version: 1, mappings: [], extra: true }), 'it does not match the expected format'],
    ['more than 1 MiB', `{"version":1,"mappings":[]}${' '.repeat(1024 * 1024)}`, 'it is larger than 1 MiB'],
  ])('sets a file with %s aside, starts empty and says so', (_what, content, problem) => {
    writeRaw(content);
    const loaded = loadMappings(path, now);
    expect(loaded.mappings).toEqual([]);
    expect(loaded.notice).toContain(problem);
    expect(loaded.notice).toContain('Berth started with none; the file was kept as mappings.json.corrupt-2025-03-04T05-06-07-089Z.');
    expect(existsSync(path)).toBe(false);
    // Kept byte for byte, for the user to look at.
    expect(readFileSync(`${path}.corrupt-2025-03-04T05-06-07-089Z`, 'utf8')).toBe(content);
  });

  it('never overwrites an earlier corrupt copy', () => {
    writeRaw('first');
    loadMappings(path, now);
    writeRaw('second');
    const loaded = loadMappings(path, now);
    expect(loaded.notice).toContain('mappings.json.corrupt-2025-03-04T05-06-07-089Z-1');
    expect(readFileSync(`${path}.corrupt-2025-03-04T05-06-07-089Z`, 'utf8')).toBe('first');
    expect(readFileSync(`${path}.corrupt-2025-03-04T05-06-07-089Z-1`, 'utf8')).toBe('second');
  });

  it('does not follow a symlink planted at the name: it is set aside, its target untouched', () => {
    const elsewhere = join(dir, 'elsewhere.json');
    writeFileSync(elsewhere, JSON.stringify({ version: 1, mappings: [web] }));
    mkdirSync(join(dir, 'config'), { mode: 0o700 });
    symlinkSync(elsewhere, path);
    const loaded = loadMappings(path, now);
    expect(loaded).toMatchObject({ mappings: [], notice: expect.stringContaining('it is not a regular file') });
    saveMappings(path, [v6]);
    expect(JSON.parse(readFileSync(elsewhere, 'utf8'))).toEqual({ version: 1, mappings: [web] });
    expect(loadMappings(path, now).mappings).toEqual([v6]);
  });

  it('keeps the first of a duplicated address and port, and says so', () => {
    writeRaw(JSON.stringify({ version: 1, mappings: [web, v6, { ...web, target: { host: 'other', port: 1 } }] }));
    const loaded = loadMappings(path, now);
    expect(loaded.mappings).toEqual([web, v6]);
    expect(loaded.notice).toBe('mappings.json listed 127.0.0.1:80 more than once; the first of each was kept.');
  });

  it('throws, and touches nothing, when the file cannot be read', async () => {
    // Root reads anything: the unprivileged user loads it.
    writeRaw(JSON.stringify({ version: 1, mappings: [web] }));
    chmodSync(dir, 0o755);
    chmodSync(join(dir, 'config'), 0o755);
    chmodSync(path, 0o600); // root's, unreadable to the user
    const result = await runFixtureAs(inject('users').test, 'ports-mappings', ['load', path]);
    expect(result).toEqual({ ok: false, message: `cannot read the saved port mappings at ${path} (EACCES)` });
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual({ version: 1, mappings: [web] });
    expect(readdirSync(join(dir, 'config'))).toEqual(['mappings.json']);
  });
});
