import { chmodSync, chownSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { withTrustedDirectory } from '../../common/fs/trusted-directory';
import { helperConfig, type HelperConfig } from '../../common/helper-config/schema';
import { generateKeyPair } from '../../common/policy/keys';
import { safeScratchDir } from '../../test/support/scratch';
import { installedCopyMatches, listed, startTimeChanges } from './restart';

const users = inject('users');

const base: HelperConfig = helperConfig.parse({
  socketPath: '/run/berth/helper.sock',
  allowUids: [users.test.uid],
  appPath: '/opt/Berth',
  auditLogPath: '/var/log/berth/audit.log',
});

describe('startTimeChanges: what a running helper takes in only at start', () => {
  it('is nothing for the fields it follows while it runs: the enrolment, and the policy URL it never reads', () => {
    const after = helperConfig.parse({ ...base, allowUids: [users.test.uid, users.other.uid], policyUrl: 'https://mdm.example.com/p.json' });
    expect(startTimeChanges(base, after)).toEqual([]);
    expect(startTimeChanges(base, base)).toEqual([]);
  });

  it('names every other field that changed, appearing or going included', () => {
    const key = generateKeyPair().publicKeyPem;
    const keyed = helperConfig.parse({ ...base, orgPublicKey: key });
    expect(startTimeChanges(base, keyed)).toEqual(['orgPublicKey']);
    expect(startTimeChanges(keyed, base)).toEqual(['orgPublicKey']);
    const moved = helperConfig.parse({ ...base, socketPath: '/run/other/helper.sock', limits: { ...base.limits, idleExitMs: 0 } });
    expect(startTimeChanges(base, moved)).toEqual(['limits', 'socketPath']);
    expect(startTimeChanges(base, helperConfig.parse({ ...base, appPath: '/opt/Elsewhere', allowUids: [users.other.uid] }))).toEqual(['appPath']);
  });
});

describe('installedCopyMatches: the installed file is exactly what the installer writes', () => {
  const content = Buffer.from('#!/usr/bin/env node\nconsole.log("helper");\n');
  let dir: string;
  beforeAll(() => {
    dir = safeScratchDir('berth-restart');
  });
  const place = (name: string, bytes: Buffer, mode = 0o755): string => {
    const path = join(dir, name);
    writeFileSync(path, bytes);
    chmodSync(path, mode);
    return path;
  };
  const matches = (name: string, bytes = content): boolean => withTrustedDirectory(dir, (trusted) => installedCopyMatches(trusted, name, bytes));

  it('the same bytes, root, 0755: a match', () => {
    place('same', content);
    expect(matches('same')).toBe(true);
    place('empty', Buffer.alloc(0));
    expect(matches('empty', Buffer.alloc(0))).toBe(true);
  });

  it('anything else is a change: absent, other bytes or size, another mode or owner, a link', () => {
    expect(matches('absent')).toBe(false);
    place('byte', Buffer.from(content.toString().replace('helper', 'helpex')));
    expect(matches('byte')).toBe(false);
    place('longer', Buffer.concat([content, Buffer.from('\n')]));
    expect(matches('longer')).toBe(false);
    place('mode', content, 0o775);
    expect(matches('mode')).toBe(false);
    chownSync(place('owner', content), users.test.uid, 0);
    expect(matches('owner')).toBe(false);
    place('target', content);
    symlinkSync(join(dir, 'target'), join(dir, 'link'));
    expect(matches('link')).toBe(false);
  });

  it('compares past the first chunk (a single executable is about 100 MB)', () => {
    const big = Buffer.alloc(3 * 1024 * 1024 + 17, 7);
    place('big', big);
    expect(matches('big', big)).toBe(true);
    const other = Buffer.from(big);
    other[other.length - 1] = 8;
    expect(matches('big', other)).toBe(false);
  });
});

describe('listed', () => {
  it('joins reasons as a sentence does', () => {
    expect(listed(['a'])).toBe('a');
    expect(listed(['a', 'b'])).toBe('a and b');
    expect(listed(['a', 'b', 'c'])).toBe('a, b and c');
  });
});
