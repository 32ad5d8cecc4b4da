/**
 * openDirectoryNoFollow: walks from '/', refuses a symlink anywhere, reports
 * every component, and hands back a close-on-exec directory fd.
 */
import { chmodSync, fstatSync, lstatSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openDirectoryNoFollow } from './index';
import { closeTracked, expectArgumentError, expectPathError, openedTempDir, rawAddon, track } from './at-test-helpers';
import { CHILD_PRELUDE, O_CLOEXEC, addonCopyForOtherUsers, fdFlags, makeTempDir, removeTempDirs, startNode } from './test-helpers';

afterEach(() => {
  closeTracked();
  removeTempDirs();
});

/** What openDirectoryNoFollow should report for `dir`, from lstat. */
function expectedComponents(dir: string): { path: string; uid: number; gid: number; mode: number }[] {
  const parts = dir.split('/').slice(1);
  const paths = ['/', ...parts.map((_, i) => `/${parts.slice(0, i + 1).join('/')}`)];
  return paths.map((p) => {
    const stat = lstatSync(p);
    return { path: p, uid: stat.uid, gid: stat.gid, mode: stat.mode & 0o7777 };
  });
}

describe('openDirectoryNoFollow', () => {
  it('opens a nested directory and reports every component from /', () => {
    const { dir } = openedTempDir(0o750);
    const nested = path.join(dir, 'a', 'b');
    mkdirSync(nested, { recursive: true, mode: 0o711 });
    const opened = openDirectoryNoFollow(nested);
    track(opened.fd);
    expect(opened.components).toEqual(expectedComponents(nested));
    expect(opened.components[0]?.path).toBe('/');
    expect(opened.components).toHaveLength(nested.split('/').length);
    const last = opened.components.at(-1);
    expect(last).toEqual({ path: nested, uid: process.getuid?.(), gid: process.getgid?.(), mode: 0o711 });
    expect(opened.components.find((c) => c.path === dir)?.mode).toBe(0o750);
    // The fd is that very directory.
    expect(fstatSync(opened.fd).ino).toBe(lstatSync(nested).ino);
    expect(fstatSync(opened.fd).isDirectory()).toBe(true);
  });

  it('returns a close-on-exec fd', () => {
    const { fd } = openedTempDir();
    expect(fdFlags(fd) & O_CLOEXEC).toBe(O_CLOEXEC);
  });

  it("opens '/' itself", () => {
    const opened = openDirectoryNoFollow('/');
    track(opened.fd);
    expect(opened.components).toEqual(expectedComponents('/').slice(0, 1));
    expect(fstatSync(opened.fd).ino).toBe(lstatSync('/').ino);
  });

  it('refuses a symlink in the middle, naming it', () => {
    const { dir } = openedTempDir();
    mkdirSync(path.join(dir, 'real', 'inner'), { recursive: true });
    symlinkSync(path.join(dir, 'real'), path.join(dir, 'link'));
    expectPathError(() => openDirectoryNoFollow(path.join(dir, 'link', 'inner')), ['ELOOP', 'ENOTDIR'], path.join(dir, 'link'));
    // A relative link is refused the same way.
    symlinkSync('real', path.join(dir, 'relative'));
    expectPathError(() => openDirectoryNoFollow(path.join(dir, 'relative', 'inner')), ['ELOOP', 'ENOTDIR'], path.join(dir, 'relative'));
  });

  it('refuses a symlink as the last component, naming it', () => {
    const { dir } = openedTempDir();
    mkdirSync(path.join(dir, 'real'));
    symlinkSync(path.join(dir, 'real'), path.join(dir, 'link'));
    expectPathError(() => openDirectoryNoFollow(path.join(dir, 'link')), ['ELOOP', 'ENOTDIR'], path.join(dir, 'link'));
    // Through the raw addon as well.
    expectPathError(() => rawAddon().openDirectoryNoFollow(path.join(dir, 'link')), ['ELOOP', 'ENOTDIR'], path.join(dir, 'link'));
  });

  it('refuses a file (ENOTDIR) and a missing component (ENOENT), naming them', () => {
    const { dir } = openedTempDir();
    writeFileSync(path.join(dir, 'file'), 'x');
    expectPathError(() => openDirectoryNoFollow(path.join(dir, 'file')), ['ENOTDIR'], path.join(dir, 'file'));
    expectPathError(() => openDirectoryNoFollow(path.join(dir, 'file', 'below')), ['ENOTDIR'], path.join(dir, 'file'));
    expectPathError(() => openDirectoryNoFollow(path.join(dir, 'missing', 'below')), ['ENOENT'], path.join(dir, 'missing'));
  });

  it('needs read permission on every directory, and names the one it lacks', async () => {
    const dir = makeTempDir(0o755);
    mkdirSync(path.join(dir, 'private', 'inner'), { recursive: true, mode: 0o700 });
    mkdirSync(path.join(dir, 'searchable', 'inner'), { recursive: true });
    chmodSync(path.join(dir, 'searchable'), 0o711); // search only: O_RDONLY needs read
    const child = startNode(
      `${CHILD_PRELUDE}
       for (const p of process.argv.slice(2)) {
         try { addon.openDirectoryNoFollow(p); report('opened'); } catch (e) { report(errorInfo(e)); }
       }`,
      [addonCopyForOtherUsers(), path.join(dir, 'private', 'inner'), path.join(dir, 'searchable', 'inner')],
      { asOtherUser: true },
    );
    const result = await child.done;
    expect(result.stderr).toBe('');
    const [first, second] = result.stdout.trim().split('\n').map((line) => JSON.parse(line) as { code?: string; message?: string });
    expect(first?.code).toBe('EACCES');
    expect(first?.message).toContain(`'${path.join(dir, 'private')}'`);
    expect(second?.code).toBe('EACCES');
    expect(second?.message).toContain(`'${path.join(dir, 'searchable')}'`);
  });

  describe('accepts only an absolute, normalized path', () => {
    const invalid: [string, string, typeof TypeError | typeof RangeError][] = [
      ['relative', 'tmp', TypeError],
      ['relative with dot', './tmp', TypeError],
      ['empty', '', TypeError],
      ['..', '/tmp/..', TypeError],
      ['.. in the middle', '/tmp/../etc', TypeError],
      ['.', '/tmp/.', TypeError],
      ['. in the middle', '/./tmp', TypeError],
      ['//', '//tmp', TypeError],
      ['// in the middle', '/tmp//x', TypeError],
      ['trailing slash', '/tmp/', TypeError],
      ['only slashes', '//', TypeError],
      ['NUL', '/tmp\0/x', TypeError],
      ['lone surrogate', '/tmp/\ud800', TypeError],
      ['4097 bytes', `/${'a/'.repeat(2048)}`, RangeError],
      ['256-byte component', `/tmp/${'a'.repeat(256)}`, RangeError],
      ['256-byte component (2-byte characters)', `/tmp/${'é'.repeat(128)}`, RangeError],
    ];
    for (const [label, value, kind] of invalid) {
      it(label, () => {
        const wrapped = expectArgumentError(() => openDirectoryNoFollow(value), kind, 'ERR_INVALID_ARG_VALUE');
        const raw = expectArgumentError(() => rawAddon().openDirectoryNoFollow(value), kind, 'ERR_INVALID_ARG_VALUE');
        expect(raw.message).toBe(wrapped.message);
      });
    }

    it('non-strings', () => {
      for (const value of [undefined, null, 1, Buffer.from('/tmp'), ['/tmp'], { toString: () => '/tmp' }]) {
        expectArgumentError(() => openDirectoryNoFollow(value as string), TypeError, 'ERR_INVALID_ARG_TYPE');
        expectArgumentError(() => rawAddon().openDirectoryNoFollow(value), TypeError, 'ERR_INVALID_ARG_TYPE');
      }
    });

    it('exactly 4096 bytes and 255-byte components are allowed (the kernel answers)', () => {
      const long = `/${'a'.repeat(255)}`.repeat(16); // 4096 bytes
      expect(Buffer.byteLength(long)).toBe(4096);
      expectPathError(() => openDirectoryNoFollow(long), ['ENOENT'], `/${'a'.repeat(255)}`);
    });
  });
});
