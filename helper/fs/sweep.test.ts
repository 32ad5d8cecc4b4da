import { lchownSync, mkdirSync, readdirSync, readFileSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { safeScratchDir } from '../../test/support/scratch';
import { startHelper } from '../../test/support/processes';
import { STALE_TEMP_AGE_MS, sweepStaleTemps } from './sweep';

const users = inject('users');
const HOUR_AGO = new Date(Date.now() - 3_600_000);

describe('stale temp files of interrupted writes, swept when the helper starts', () => {
  it('removes only its own old temp files: not a young one, a link, a user-owned file, another name, or the file itself', async () => {
    const stateDir = join(safeScratchDir('berth-sweep'), 'state');
    mkdirSync(stateDir, { mode: 0o755 });
    const at = (name: string): string => join(stateDir, name);
    writeFileSync(at('policy.json'), '{"format":"berth-policy/1"}', { mode: 0o644 });
    const stale = ['.policy.json.berth-0123456789abcdef', '.links.json.berth-fedcba9876543210'];
    for (const name of stale) writeFileSync(at(name), '{"torn', { mode: 0o600 });
    writeFileSync(at('.install.json.berth-aaaaaaaaaaaaaaaa'), 'young', { mode: 0o600 });
    writeFileSync(at('.policy.json.berth-bbbbbbbbbbbbbbbb'), 'a user planted it', { mode: 0o600 });
    lchownSync(at('.policy.json.berth-bbbbbbbbbbbbbbbb'), users.test.uid, users.test.gid);
    symlinkSync('/etc/passwd', at('.policy.json.berth-cccccccccccccccc'));
    writeFileSync(at('.notes.berth-dddddddddddddddd'), 'another name', { mode: 0o600 });
    for (const name of [...stale, 'policy.json', '.policy.json.berth-bbbbbbbbbbbbbbbb', '.notes.berth-dddddddddddddddd']) utimesSync(at(name), HOUR_AGO, HOUR_AGO);

    const helper = await startHelper({ allowUid: users.test.uid, extraArgs: ['--state-dir', stateDir] });
    try {
      expect(readdirSync(stateDir).sort()).toEqual(
        ['.install.json.berth-aaaaaaaaaaaaaaaa', '.notes.berth-dddddddddddddddd', '.policy.json.berth-bbbbbbbbbbbbbbbb', '.policy.json.berth-cccccccccccccccc', 'policy.json'].sort(),
      );
      expect(readFileSync(at('policy.json'), 'utf8')).toBe('{"format":"berth-policy/1"}');
      for (const name of stale) expect(helper.stderr()).toContain(`removed ${at(name)}, left by an interrupted write`);
    } finally {
      await helper.stop();
    }
    // The young one goes once it is old too; a directory that is not root's alone is never touched.
    expect(sweepStaleTemps(stateDir, ['install.json'], Date.now() + STALE_TEMP_AGE_MS + 1_000)).toEqual([at('.install.json.berth-aaaaaaaaaaaaaaaa')]);
    const userDir = join(safeScratchDir('berth-sweep-user'), 'state');
    mkdirSync(userDir, { mode: 0o755 });
    writeFileSync(join(userDir, '.policy.json.berth-0123456789abcdef'), 'x');
    utimesSync(join(userDir, '.policy.json.berth-0123456789abcdef'), HOUR_AGO, HOUR_AGO);
    lchownSync(userDir, users.test.uid, users.test.gid);
    expect(sweepStaleTemps(userDir, ['policy.json'])).toEqual([]);
    expect(readdirSync(userDir)).toEqual(['.policy.json.berth-0123456789abcdef']);
  });
});
