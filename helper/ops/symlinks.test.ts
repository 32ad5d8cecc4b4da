import { chmodSync, existsSync, lchownSync, lstatSync, mkdirSync, readFileSync, readlinkSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { cliToolTarget } from '../../common/cli-tools';
import { validateRequest } from '../../common/protocol';
import { opContext } from '../../test/support/op-context';
import { runFixtureAs, startHelper } from '../../test/support/processes';
import { bindMount } from '../../test/support/namespace';
import { safeScratchDir } from '../../test/support/scratch';
import { refusal } from '../../test/support/refusal';
import { installSymlinks, removeSymlinks } from './symlinks';

const users = inject('users');

let root: string;
let linkDir: string;
let stateDir: string;
let appPath: string;

function context(overrides: { appPath?: string; linkDir?: string } = {}) {
  return opContext({ appPath, linkDir, stateDir, ...overrides });
}

/** A snapshot of the link dir: names, kinds, link targets and file bytes. */
function snapshot(dir: string): string {
  return readdirSync(dir)
    .sort()
    .map((name) => {
      const st = lstatSync(join(dir, name));
      if (st.isSymbolicLink()) return `${name} -> ${readlinkSync(join(dir, name))} (uid ${st.uid})`;
      return `${name}: ${readFileSync(join(dir, name), 'utf8')}`;
    })
    .join('\n');
}


/** An installed app as root leaves it: root-owned folders and a root-owned 0755 program. */
function makeApp(app: string): void {
  mkdirSync(join(app, 'resources/bin'), { recursive: true, mode: 0o755 });
  writeFileSync(join(app, 'resources/bin/berth'), '#!/bin/sh\necho berth\n', { mode: 0o755 });
}

beforeEach(() => {
  root = safeScratchDir('berth-links');
  linkDir = join(root, 'bin');
  stateDir = join(root, 'state');
  appPath = join(root, 'Berth');
  mkdirSync(linkDir, { mode: 0o755 });
  makeApp(appPath);
});

describe('installSymlinks / removeSymlinks', () => {
  it('links berth to the app recorded at install, idempotently', async () => {
    const first = await installSymlinks({ names: ['berth'] }, context());
    expect(first.result).toEqual({
      linkDir,
      links: [{ name: 'berth', target: cliToolTarget(appPath, 'berth'), action: 'created' }],
    });
    expect(readlinkSync(join(linkDir, 'berth'))).toBe(join(appPath, 'resources/bin/berth'));
    expect(lstatSync(join(linkDir, 'berth')).uid).toBe(0);
    const before = lstatSync(join(linkDir, 'berth'));
    const second = await installSymlinks({ names: ['berth'] }, context());
    expect(second.result.links[0]!.action).toBe('unchanged');
    expect(lstatSync(join(linkDir, 'berth')).ino).toBe(before.ino);
  });

  it('replaces its own stale link atomically when the app moved', async () => {
    await installSymlinks({ names: ['berth'] }, context());
    const moved = join(root, 'Berth-2');
    makeApp(moved);
    const second = await installSymlinks({ names: ['berth'] }, context({ appPath: moved }));
    expect(second.result.links[0]).toMatchObject({ action: 'replaced', target: cliToolTarget(moved, 'berth') });
    expect(readlinkSync(join(linkDir, 'berth'))).toBe(cliToolTarget(moved, 'berth'));
    // No temp links left behind.
    expect(readdirSync(linkDir)).toEqual(['berth']);
  });

  it.each([
    ['a regular file of the user', () => writeFileSync(join(linkDir, 'berth'), 'my own script')],
    ['a link to something else', () => symlinkSync('/usr/bin/env', join(linkDir, 'berth'))],
    [
      'a link to Berth owned by another user',
      () => {
        symlinkSync(cliToolTarget(appPath, 'berth'), join(linkDir, 'berth'));
        lchownSync(join(linkDir, 'berth'), users.test.uid, users.test.gid);
      },
    ],
  ])('reports %s as a conflict and changes nothing', async (_what, plant) => {
    plant();
    const before = snapshot(linkDir);
    const error = await refusal(() => installSymlinks({ names: ['berth'] }, context()));
    expect(error.code).toBe('CONFLICT');
    expect(error.message).toMatch(/not Berth's|not to Berth/);
    expect(snapshot(linkDir)).toBe(before);
    const removal = await refusal(() => removeSymlinks({ names: ['berth'] }, context()));
    expect(removal.code).toBe('CONFLICT');
    expect(snapshot(linkDir)).toBe(before);
  });

  it('never follows a link planted where its temp links go', async () => {
    await installSymlinks({ names: ['berth'] }, context());
    const decoy = join(root, 'decoy');
    writeFileSync(decoy, 'untouched');
    symlinkSync(decoy, join(linkDir, '.berth.berth-0000000000000000'));
    makeApp(join(root, 'Berth-2'));
    await installSymlinks({ names: ['berth'] }, context({ appPath: join(root, 'Berth-2') }));
    expect(readFileSync(decoy, 'utf8')).toBe('untouched');
    expect(readlinkSync(join(linkDir, '.berth.berth-0000000000000000'))).toBe(decoy);
  });

  it('refuses a link directory others can write to, and says what to use instead', async () => {
    chmodSync(linkDir, 0o775);
    const error = await refusal(() => installSymlinks({ names: ['berth'] }, context()));
    expect(error.code).toBe('UNSAFE_PATH');
    expect(error.message).toMatch(/writable by its group/);
    expect(error.message).toContain('~/.berth/bin');
    expect(readdirSync(linkDir)).toEqual([]);
  });

  it('refuses a link directory owned by a user (Homebrew on Intel Macs) or reached through a symlink', async () => {
    chmodSync(linkDir, 0o755);
    const owned = join(root, 'owned');
    mkdirSync(owned, { mode: 0o755 });
    lchownSync(owned, users.test.uid, users.test.gid);
    expect((await refusal(() => installSymlinks({ names: ['berth'] }, context({ linkDir: owned })))).message).toContain(
      `owned by uid ${users.test.uid}`,
    );
    symlinkSync(linkDir, join(root, 'via-link'));
    expect((await refusal(() => installSymlinks({ names: ['berth'] }, context({ linkDir: join(root, 'via-link') })))).code).toBe(
      'UNSAFE_PATH',
    );
    expect(readdirSync(linkDir)).toEqual([]);
  });

  it.each([
    ['owned by the user (an app in their own folder)', (app: string) => lchownSync(app, users.test.uid, users.test.gid), /Berth is owned by uid \d+, not root/],
    ['writable by its group', (app: string) => chmodSync(join(app, 'resources/bin'), 0o775), /resources\/bin is writable by its group/],
    [
      'not there yet under a folder everyone can write (an AppImage mount gone, /tmp)',
      () => undefined,
      /\/tmp\/\.mount_BerthXYZ\/resources\/bin does not exist/,
      '/tmp/.mount_BerthXYZ',
    ],
    [
      'reached through a symlink',
      (app: string) => {
        rmSync(join(app, 'resources'), { recursive: true });
        symlinkSync(join(root, 'elsewhere'), join(app, 'resources'));
      },
      /resources is a symlink or not a directory/,
    ],
  ])('refuses to link an app %s: the link would run what others can change; nothing is linked', async (_what, spoil, reason, elsewhere?: string) => {
    const app = elsewhere ?? appPath;
    spoil(app);
    const error = await refusal(() => installSymlinks({ names: ['berth'] }, context({ appPath: app })));
    expect(error.code).toBe('UNSAFE_PATH');
    expect(error.message).toMatch(reason);
    expect(error.message).toContain(`the link would run ${cliToolTarget(app, 'berth')}`);
    expect(error.message).toContain('~/.berth/bin');
    expect(readdirSync(linkDir)).toEqual([]);
  });

  it.each([
    ['owned by the user', (file: string) => lchownSync(file, users.test.uid, users.test.gid), /resources\/bin\/berth is owned by uid \d+, not root/],
    ['writable by its group', (file: string) => chmodSync(file, 0o775), /resources\/bin\/berth is writable by its group/],
    ['writable by everyone', (file: string) => chmodSync(file, 0o757), /resources\/bin\/berth is writable by everyone/],
    [
      'a symlink (to a file the user owns)',
      (file: string) => {
        const mine = join(root, 'mine');
        writeFileSync(mine, '#!/bin/sh\n');
        lchownSync(mine, users.test.uid, users.test.gid);
        rmSync(file);
        symlinkSync(mine, file);
      },
      /resources\/bin\/berth is a symlink/,
    ],
    ['a directory', (file: string) => (rmSync(file), mkdirSync(file, { mode: 0o755 })), /resources\/bin\/berth is a directory, not a file/],
    ['missing', (file: string) => rmSync(file), /resources\/bin\/berth does not exist/],
  ])('refuses to link a program file %s, in folders that are all root’s: root would run it (sudo berth); nothing is linked', async (_what, spoil, reason) => {
    spoil(cliToolTarget(appPath, 'berth'));
    const before = snapshot(linkDir);
    const error = await refusal(() => installSymlinks({ names: ['berth'] }, context()));
    expect(error.code).toBe('UNSAFE_PATH');
    expect(error.message).toMatch(reason);
    expect(error.message).toContain(`the link would run ${cliToolTarget(appPath, 'berth')}`);
    expect(error.message).toContain('~/.berth/bin');
    expect(snapshot(linkDir)).toBe(before);
    expect(existsSync(join(stateDir, 'links.json'))).toBe(false);
  });

  it.each([
    ['owned by the user', (file: string) => lchownSync(file, users.test.uid, users.test.gid), /berth_native\.node is owned by uid \d+, not root/],
    ['writable by everyone', (file: string) => chmodSync(file, 0o646), /berth_native\.node is writable by everyone/],
  ])('refuses to link a program whose native addon (loaded by it as root) is %s; none at all is fine', async (_what, spoil, reason) => {
    const addon = join(dirname(cliToolTarget(appPath, 'berth')), 'berth_native.node');
    writeFileSync(addon, 'addon', { mode: 0o644 });
    spoil(addon);
    const error = await refusal(() => installSymlinks({ names: ['berth'] }, context()));
    expect(error).toMatchObject({ code: 'UNSAFE_PATH', message: expect.stringMatching(reason) });
    expect(readdirSync(linkDir)).toEqual([]);
    rmSync(addon);
    expect((await installSymlinks({ names: ['berth'] }, context())).result.links[0]!.action).toBe('created');
  });

  it('refuses an app that is not there yet, even where only root could create it', async () => {
    const later = join(root, 'Later/Berth');
    const error = await refusal(() => installSymlinks({ names: ['berth'] }, context({ appPath: later })));
    expect(error).toMatchObject({ code: 'UNSAFE_PATH', message: expect.stringMatching(/Later\/Berth\/resources\/bin does not exist/) });
    expect(readdirSync(linkDir)).toEqual([]);
  });

  it('needs the app location from the install', async () => {
    const error = await refusal(() => installSymlinks({ names: ['berth'] }, opContext({ linkDir, stateDir })));
    expect(error.code).toBe('NOT_CONFIGURED');
    expect(readdirSync(linkDir)).toEqual([]);
  });

  it('removes only its own links, and says absent when there is none', async () => {
    expect((await removeSymlinks({ names: ['berth'] }, context())).result.links).toEqual([{ name: 'berth', action: 'absent' }]);
    await installSymlinks({ names: ['berth'] }, context());
    expect((await removeSymlinks({ names: ['berth'] }, context())).result.links).toEqual([{ name: 'berth', action: 'removed' }]);
    expect(readdirSync(linkDir)).toEqual([]);
    expect(readFileSync(join(appPath, 'resources/bin/berth'), 'utf8')).toContain('echo berth');
  });

  it.each([['../etc/passwd'], ['a/b'], ['..'], ['be\0rth'], ['-rf'], ['docker'], ['']])(
    'refuses the name %j before any file is touched',
    (name) => {
      expect(() => validateRequest({ id: 1, op: 'installSymlinks', args: { names: [name] } })).toThrow(/names/);
      expect(() => validateRequest({ id: 1, op: 'removeSymlinks', args: { names: [name] } })).toThrow(/names/);
    },
  );

  it('refuses an empty or repeated list', () => {
    expect(() => validateRequest({ id: 1, op: 'installSymlinks', args: { names: [] } })).toThrow(/names/);
    expect(() => validateRequest({ id: 1, op: 'installSymlinks', args: { names: ['berth', 'berth'] } })).toThrow(/names/);
  });
});

describe('CLI links in /usr/local/bin through the real helper, as the user', () => {
  const undo: Array<() => void> = [];
  afterAll(() => undo.reverse().forEach((u) => u()));

  it('installs and removes /usr/local/bin/berth, audited', async () => {
    const scratchBin = join(root, 'usr-local-bin');
    mkdirSync(scratchBin, { mode: 0o755 });
    writeFileSync(join(scratchBin, 'someone-elses-tool'), 'keep me');
    undo.push(bindMount(scratchBin, '/usr/local/bin'));
    const helper = await startHelper({
      allowUid: users.test.uid,
      extraArgs: ['--app', appPath, '--state-dir', stateDir],
      // This test's own scratch /usr/local/bin (bound above) is the one the helper must write.
      privateSystemPaths: false,
    });
    try {
      const installed = await runFixtureAs(users.test, 'helper-client', ['request', helper.socketPath, 'installSymlinks', '{"names":["berth"]}']);
      expect(installed).toMatchObject({ ok: true, result: { linkDir: '/usr/local/bin', links: [{ name: 'berth', action: 'created' }] } });
      expect(readlinkSync('/usr/local/bin/berth')).toBe(cliToolTarget(appPath, 'berth'));
      const removed = await runFixtureAs(users.test, 'helper-client', ['request', helper.socketPath, 'removeSymlinks', '{"names":["berth"]}']);
      expect(removed).toMatchObject({ ok: true, result: { links: [{ name: 'berth', action: 'removed' }] } });
      expect(readdirSync('/usr/local/bin')).toEqual(['someone-elses-tool']);
      expect(readFileSync('/usr/local/bin/someone-elses-tool', 'utf8')).toBe('keep me');
      const bad = await runFixtureAs(users.test, 'helper-client', ['request', helper.socketPath, 'installSymlinks', '{"names":["../../etc/shadow"]}']);
      expect(bad).toMatchObject({ ok: false, code: 'BAD_REQUEST' });
      expect(helper.auditEntries().map((e) => [e.op, e.result])).toEqual(
        expect.arrayContaining([
          ['installSymlinks', 'ok'],
          ['removeSymlinks', 'ok'],
        ]),
      );
    } finally {
      await helper.stop();
      rmSync(stateDir, { recursive: true, force: true });
    }
  });
});
