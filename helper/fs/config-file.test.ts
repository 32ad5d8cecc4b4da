import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { readConfigFile } from '../../common/helper-config/read';
import { safeScratchDir } from '../../test/support/scratch';
import { serializeConfig, updateConfigFile, writeConfigFile } from './config-file';

let dir: string;
let path: string;
const base = { socketPath: '/run/berth/helper.sock', stateDir: '/var/lib/berth' };

beforeEach(() => {
  dir = join(safeScratchDir('berth-config'), 'etc');
  mkdirSync(dir, { mode: 0o755 });
  path = join(dir, 'helper.json');
  writeFileSync(path, JSON.stringify({ ...base, allowUid: 1000 }), { mode: 0o644 });
});

describe('the helper config as root writes it', () => {
  it('upgrades a legacy allowUid to allowUids at the next write, root-owned 0644, leaving no temp file', () => {
    const { before, after, changed } = updateConfigFile(path, (config) => ({ ...config, allowUids: [...config.allowUids, 1001] }));
    expect([before.allowUids, after.allowUids, changed]).toEqual([[1000], [1000, 1001], true]);
    const written = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
    expect(written.allowUids).toEqual([1000, 1001]);
    expect(written).not.toHaveProperty('allowUid');
    const st = statSync(path);
    expect([st.uid, st.mode & 0o777]).toEqual([0, 0o644]);
    expect(readdirSync(dir)).toEqual(['helper.json']);
  });

  it('does not write at all when the change is "nothing"', () => {
    const before = statSync(path);
    expect(updateConfigFile(path, () => undefined).changed).toBe(false);
    const after = statSync(path);
    expect([after.ino, after.mtimeMs]).toEqual([before.ino, before.mtimeMs]);
  });

  it('loses no concurrent change: a writer that got in between is read again and the change reapplied', () => {
    let raced = false;
    updateConfigFile(path, (config) => {
      if (!raced) {
        raced = true;
        // Another root process (a second user's install) replaces the file after we read it.
        writeConfigFile(path, { ...config, allowUids: [...config.allowUids, 2000] });
      }
      return { ...config, allowUids: [...config.allowUids, 3000] };
    });
    expect(readConfigFile(path).allowUids).toEqual([1000, 2000, 3000]);
  });

  it('gives up, with the other writer’s file in place, when it keeps changing', () => {
    let n = 0;
    expect(() =>
      updateConfigFile(path, (config) => {
        writeConfigFile(path, { ...config, allowUids: [1000, 2000 + n++] });
        return { ...config, allowUids: [1000, 9999] };
      }),
    ).toThrow(/kept changing while it was being updated; try again/);
    expect(readConfigFile(path).allowUids).toEqual([1000, 2004]);
    expect(readdirSync(dir)).toEqual(['helper.json']);
  });

  it('refuses to write anything invalid, leaving the file as it was', () => {
    const bytes = readFileSync(path);
    expect(() => updateConfigFile(path, (config) => ({ ...config, allowUids: [] }))).toThrow(/refusing to write an invalid helper config: allowUids: must name at least one user/);
    expect(() => serializeConfig({ ...base, allowUids: [0] })).toThrow(/allowUids.0: must be a user other than root/);
    expect(() => writeConfigFile(path, { ...base, allowUids: [1000, 1000] })).toThrow(/must not repeat a uid/);
    expect(readFileSync(path).equals(bytes)).toBe(true);
    expect(readdirSync(dir)).toEqual(['helper.json']);
  });
});
