import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, lchownSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { safeScratchDir } from '../../test/support/scratch';
import { elevatedFiles } from './helper-install';
import { changeableWarning, ownershipRisk, trustedGroups, whoCanChange, type Ownership } from './who-can-change';

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const ME = 1000;
const options = { uid: ME, trustedGroups: [] as number[] };

const permissions = fc.integer({ min: 0, max: 0o7777 });
const kind = fc.constantFrom(S_IFDIR, S_IFREG);
const id = fc.integer({ min: 0, max: 70000 });

describe('ownershipRisk', () => {
  it('accepts a root-owned folder or file that only its owner can write', () => {
    fc.assert(
      fc.property(kind, permissions, id, (type, perms, gid) => {
        expect(ownershipRisk({ uid: 0, gid, mode: type | (perms & ~0o022) }, options)).toBeUndefined();
      }),
    );
  });

  it('reports anything not owned by root, whatever its mode, and says "you" for the asking user', () => {
    fc.assert(
      fc.property(fc.constantFrom(S_IFDIR, S_IFREG, S_IFLNK), permissions, id.filter((u) => u !== 0), (type, perms, uid) => {
        const reason = ownershipRisk({ uid, gid: 0, mode: type | perms }, options);
        expect(reason).toBe(uid === ME ? 'owned by you' : `owned by uid ${uid}, not root`);
      }),
    );
  });

  it('reports a root-owned file writable by everyone or by its group, sticky or not', () => {
    fc.assert(
      fc.property(permissions, id, (perms, gid) => {
        const mode = S_IFREG | perms | 0o002;
        expect(ownershipRisk({ uid: 0, gid, mode }, options)).toBe('writable by everyone');
        expect(ownershipRisk({ uid: 0, gid, mode: (S_IFREG | perms | 0o020) & ~0o002 }, options)).toBe(`writable by its group (gid ${gid})`);
      }),
    );
  });

  it('accepts a root-owned sticky folder (as /tmp): others cannot rename or remove what root put there', () => {
    const tmp: Ownership = { uid: 0, gid: 0, mode: S_IFDIR | 0o1777 };
    expect(ownershipRisk(tmp, options)).toBeUndefined();
    expect(ownershipRisk({ ...tmp, mode: S_IFDIR | 0o0777 }, options)).toBe('writable by everyone');
  });

  it("accepts a trusted group's write bit (macOS admin on /Applications) and no other group's", () => {
    const applications: Ownership = { uid: 0, gid: 80, mode: S_IFDIR | 0o775 };
    expect(ownershipRisk(applications, { uid: ME, trustedGroups: trustedGroups('darwin') })).toBeUndefined();
    expect(ownershipRisk(applications, { uid: ME, trustedGroups: trustedGroups('linux') })).toBe('writable by its group (gid 80)');
  });

  it("ignores a root-owned link's own mode (always 0777): its folder decides", () => {
    expect(ownershipRisk({ uid: 0, gid: 0, mode: S_IFLNK | 0o777 }, options)).toBeUndefined();
  });
});

describe('changeableWarning', () => {
  it('is one sentence naming the first path, why, and where to install instead; null when only root can change it', () => {
    expect(changeableWarning({ changeable: false, risks: [] }, 'linux')).toBeNull();
    const linux = changeableWarning({ changeable: true, risks: [{ path: '/home/u/Berth', reason: 'owned by you' }] }, 'linux')!;
    expect(linux).toContain('(/home/u/Berth is owned by you)');
    expect(linux).toContain('install Berth to /opt first');
    expect(linux).toMatch(/^The helper Berth would install [^.]*development copy\.$/);
    const mac = changeableWarning(
      {
        changeable: true,
        risks: [
          { path: '/Users/u/Applications', reason: 'owned by you' },
          { path: '/Users/u/Applications/Berth.app', reason: 'owned by you' },
        ],
      },
      'darwin',
    )!;
    expect(mac).toContain('(/Users/u/Applications is owned by you, and 1 more)');
    expect(mac).toContain('/Applications first');
  });
});

/** Real folders and files on a tmpfs in the test's mount namespace, chown'd to the real test users. */
describe('whoCanChange on real files', () => {
  const users = inject('users');
  const you = { uid: users.test.uid, trustedGroups: [] };
  let root: string;

  /** A root-owned 0755 folder chain under the scratch folder, and a root-owned 0755 program in it. */
  function program(relative: string, mode = 0o755): string {
    const file = join(root, relative);
    mkdirSync(join(file, '..'), { recursive: true, mode: 0o755 });
    writeFileSync(file, '#!/bin/sh\n', { mode });
    chmodSync(file, mode);
    return file;
  }

  /** Runs sh as the unprivileged test user; true when the command succeeded. */
  function asTestUser(script: string): boolean {
    const { uid, gid } = users.test;
    return spawnSync('setpriv', [`--reuid=${uid}`, `--regid=${gid}`, '--clear-groups', '--', '/bin/sh', '-c', script], { cwd: '/' }).status === 0;
  }

  beforeAll(() => {
    root = safeScratchDir('berth-who-can-change');
  });

  it('a root-owned 0755 chain with a root-owned 0755 program and 0644 addon is safe', () => {
    const helper = program('opt/Berth/resources/helper/berth-helper');
    program('opt/Berth/resources/helper/berth_native.node', 0o644);
    expect(whoCanChange(elevatedFiles([helper]), you)).toEqual({ changeable: false, risks: [] });
  });

  it('reports a folder owned by the user, and the user really can swap the program in it', () => {
    const helper = program('home/u/Berth/resources/helper/berth-helper');
    program('home/u/Berth/resources/helper/berth_native.node', 0o644);
    chownSync(join(root, 'home/u/Berth'), users.test.uid, users.test.gid);
    const report = whoCanChange(elevatedFiles([helper]), you);
    expect(report).toEqual({ changeable: true, risks: [{ path: join(root, 'home/u/Berth'), reason: 'owned by you' }] });
    // Why it matters: the owner of a folder on the way replaces what root would run.
    expect(asTestUser(`cd ${root}/home/u/Berth && mv resources old && mkdir -p resources/helper && echo evil > resources/helper/berth-helper`)).toBe(true);
  });

  it('reports group- and world-writable folders and files, each with its reason', () => {
    const helper = program('gw/app/helper/berth-helper', 0o757);
    program('gw/app/helper/berth_native.node', 0o664);
    chmodSync(join(root, 'gw/app'), 0o775);
    const report = whoCanChange(elevatedFiles([helper]), you);
    expect(report.risks).toEqual([
      { path: join(root, 'gw/app'), reason: 'writable by its group (gid 0)' },
      { path: helper, reason: 'writable by everyone' },
      { path: join(root, 'gw/app/helper/berth_native.node'), reason: 'writable by its group (gid 0)' },
    ]);
  });

  it('accepts root-owned files inside a sticky world-writable folder, which the user really cannot swap', () => {
    const helper = program('sticky/app/berth-helper');
    program('sticky/app/berth_native.node', 0o644);
    chmodSync(join(root, 'sticky'), 0o1777);
    expect(whoCanChange(elevatedFiles([helper]), you)).toEqual({ changeable: false, risks: [] });
    expect(asTestUser(`mv ${root}/sticky/app ${root}/sticky/moved`)).toBe(false);
    // Without the sticky bit the same folder lets the user do it.
    chmodSync(join(root, 'sticky'), 0o777);
    expect(whoCanChange(elevatedFiles([helper]), you).risks).toEqual([{ path: join(root, 'sticky'), reason: 'writable by everyone' }]);
    expect(asTestUser(`mv ${root}/sticky/app ${root}/sticky/moved`)).toBe(true);
  });

  it('follows symlinks only after checking them: the real folder behind a root link, and a link the user owns', () => {
    const real = program('link/home/Berth/berth-helper');
    program('link/home/Berth/berth_native.node', 0o644);
    chownSync(join(root, 'link/home/Berth'), users.test.uid, users.test.gid);
    mkdirSync(join(root, 'link/opt'), { mode: 0o755 });
    symlinkSync('../home/Berth', join(root, 'link/opt/Berth'));
    const report = whoCanChange(elevatedFiles([join(root, 'link/opt/Berth/berth-helper')]), you);
    expect(report.risks).toEqual([{ path: join(root, 'link/home/Berth'), reason: 'owned by you' }]);
    expect(report.risks.map((r) => r.path)).not.toContain(real);

    program('link2/real/berth-helper');
    program('link2/real/berth_native.node', 0o644);
    symlinkSync(join(root, 'link2/real'), join(root, 'link2/alias'));
    expect(whoCanChange([join(root, 'link2/alias/berth-helper')], you)).toEqual({ changeable: false, risks: [] });
    lchownSync(join(root, 'link2/alias'), users.test.uid, users.test.gid);
    expect(whoCanChange([join(root, 'link2/alias/berth-helper')], you).risks).toEqual([{ path: join(root, 'link2/alias'), reason: 'owned by you' }]);
  });

  it('ends a symlink loop and a missing file with a risk, never a pass', () => {
    mkdirSync(join(root, 'loop'), { mode: 0o755 });
    symlinkSync('b', join(root, 'loop/a'));
    symlinkSync('a', join(root, 'loop/b'));
    expect(whoCanChange([join(root, 'loop/a/berth-helper')], you).risks).toEqual([
      { path: join(root, 'loop/a/berth-helper'), reason: 'behind too many symbolic links' },
    ]);
    expect(whoCanChange([join(root, 'nowhere/berth-helper')], you).risks).toEqual([
      { path: join(root, 'nowhere'), reason: 'not checkable (ENOENT)' },
    ]);
    expect(whoCanChange(['relative/berth-helper'], you)).toEqual({
      changeable: true,
      risks: [{ path: 'relative/berth-helper', reason: 'not an absolute path' }],
    });
  });

  it('checks node, the bundle and the addon beside it for a development build', () => {
    const bundle = program('dev/dist/helper/berth-helper.js', 0o644);
    program('dev/dist/helper/berth_native.node', 0o755);
    expect(elevatedFiles(['/usr/bin/node', bundle])).toEqual(['/usr/bin/node', bundle, join(root, 'dev/dist/helper/berth_native.node')]);
    chownSync(bundle, users.test.uid, users.test.gid);
    expect(whoCanChange(elevatedFiles([process.execPath, bundle]), you).risks).toEqual([{ path: bundle, reason: 'owned by you' }]);
  });
});
