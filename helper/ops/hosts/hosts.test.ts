/**
 * The hosts operations on real files. Scratch directories come from
 * safeScratchDir: a root-owned 0755 tmpfs over /mnt in the suite's private
 * mount namespace. Not /tmp or /var/tmp: those are world-writable (sticky),
 * and the helper rightly refuses to write as root under them.
 */
import { execFileSync } from 'node:child_process';
import {
  appendFileSync,
  chmodSync,
  chownSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { beforeEach, describe, expect, inject, it } from 'vitest';
import { ProtocolError, type ErrorCode } from '../../../common/protocol';
import { assertPrivateMountNamespace, bindMount } from '../../../test/support/namespace';
import { USER_CONTENT, useScratchHosts } from './test-setup';
import { randomTempName, updateFile } from './atomic-file';
import { APP_HOSTNAME, BEGIN_MARKER, blockEntries, ensureBlock, ensureHostsBlock, removeHostsBlock } from './index';
import { hostsPath as systemHostsPath } from '../../../common/paths';

const users = inject('users');

const scratch = useScratchHosts();
let dir: string;
let hostsPath: string;
let undo: Array<() => void>;
beforeEach(() => ({ dir, hostsPath, undo } = scratch()));

function refusal(fn: () => unknown, code: ErrorCode): ProtocolError {
  try {
    fn();
  } catch (error) {
    if (error instanceof ProtocolError && error.code === code) return error;
    throw error;
  }
  throw new Error(`expected ${code}`);
}

/** Temp files we might leave behind in a directory. */
function temps(where: string): string[] {
  return readdirSync(where).filter((name) => name.includes('.berth-') && !name.endsWith('.berth-backup'));
}

function mount(...args: string[]): () => void {
  assertPrivateMountNamespace();
  const target = args[args.length - 1]!;
  execFileSync('mount', args);
  return () => execFileSync('umount', [target]);
}

describe('ensureHostsBlock / removeHostsBlock on a file', () => {
  it('round-trips a CRLF file without a final newline byte for byte, keeping owner and mode', () => {
    writeFileSync(hostsPath, USER_CONTENT);
    chownSync(hostsPath, 0, users.test.gid);
    chmodSync(hostsPath, 0o640);
    expect(ensureHostsBlock(hostsPath)).toEqual({ changed: true, method: 'rename' });
    const ensured = readFileSync(hostsPath, 'latin1');
    expect(ensured.startsWith(USER_CONTENT + '\r\n# BEGIN berth')).toBe(true);
    expect(ensured.endsWith('# END berth\r\n')).toBe(true);
    expect(ensured.split('\r\n').length).toBe(ensured.split('\n').length); // every line CRLF
    const st = statSync(hostsPath);
    expect([st.uid, st.gid, st.mode & 0o7777]).toEqual([0, users.test.gid, 0o640]);

    expect(removeHostsBlock(hostsPath)).toEqual({ changed: true, method: 'rename' });
    expect(readFileSync(hostsPath, 'latin1')).toBe(USER_CONTENT);
    const after = statSync(hostsPath);
    expect([after.uid, after.gid, after.mode & 0o7777]).toEqual([0, users.test.gid, 0o640]);
    expect(temps(dir)).toEqual([]);
  });

  it('adds only berth.internal when the user already maps localhost', () => {
    const content = '127.0.0.1\tlocalhost\n::1     localhost ip6-localhost\n';
    writeFileSync(hostsPath, content);
    ensureHostsBlock(hostsPath);
    const ensured = readFileSync(hostsPath);
    expect(blockEntries(ensured)).toEqual([{ address: '127.0.0.1', name: APP_HOSTNAME }]);
    expect(ensured.toString('latin1')).toBe(`${content}${BEGIN_MARKER}\n127.0.0.1 ${APP_HOSTNAME}\n# END berth\n`);
  });

  it('is idempotent: the second ensure and a remove without a block write nothing', () => {
    writeFileSync(hostsPath, '127.0.0.1 localhost\n');
    ensureHostsBlock(hostsPath);
    const before = statSync(hostsPath);
    expect(ensureHostsBlock(hostsPath)).toEqual({ changed: false, method: 'none' });
    const after = statSync(hostsPath);
    expect([after.ino, after.mtimeMs, after.ctimeMs]).toEqual([before.ino, before.mtimeMs, before.ctimeMs]);

    removeHostsBlock(hostsPath);
    const removed = statSync(hostsPath);
    expect(removeHostsBlock(hostsPath)).toEqual({ changed: false, method: 'none' });
    const again = statSync(hostsPath);
    expect([again.ino, again.mtimeMs]).toEqual([removed.ino, removed.mtimeMs]);
  });

  it('creates a missing hosts file root-owned 0644 on ensure, and remove leaves it missing', () => {
    expect(removeHostsBlock(hostsPath)).toEqual({ changed: false, method: 'none' });
    expect(existsSync(hostsPath)).toBe(false);
    expect(ensureHostsBlock(hostsPath)).toEqual({ changed: true, method: 'rename' });
    const st = statSync(hostsPath);
    expect([st.uid, st.gid, st.mode & 0o7777]).toEqual([0, 0, 0o644]);
    expect(readFileSync(hostsPath, 'latin1').startsWith(BEGIN_MARKER)).toBe(true);
  });

  it('refuses to override a user mapping of berth.internal, naming the line, and changes nothing', () => {
    const content = '127.0.0.1 localhost\n\n10.9.8.7   berth.internal  # my own\n';
    writeFileSync(hostsPath, content);
    const before = statSync(hostsPath);
    const error = refusal(() => ensureHostsBlock(hostsPath), 'CONFLICT');
    expect(error.message).toContain(`line 3 of ${hostsPath} already maps berth.internal`);
    expect(readFileSync(hostsPath, 'latin1')).toBe(content);
    const after = statSync(hostsPath);
    expect([after.ino, after.mtimeMs]).toEqual([before.ino, before.mtimeMs]);
    expect(temps(dir)).toEqual([]);
  });

  it('refuses a malformed block on ensure and remove, and changes nothing', () => {
    const content = `127.0.0.1 localhost\n${BEGIN_MARKER}\n127.0.0.1 berth.internal\n`;
    writeFileSync(hostsPath, content);
    const before = statSync(hostsPath);
    for (const op of [ensureHostsBlock, removeHostsBlock]) {
      const error = refusal(() => op(hostsPath), 'CONFLICT');
      expect(error.message).toMatch(/fix or remove the berth block by hand/);
    }
    expect(readFileSync(hostsPath, 'latin1')).toBe(content);
    expect(statSync(hostsPath).ino).toBe(before.ino);
  });

  it('names the hosts file without a symlinked directory (macOS /etc is a link to /private/etc)', () => {
    expect(systemHostsPath('linux')).toBe('/etc/hosts');
    expect(systemHostsPath('darwin')).toBe('/private/etc/hosts');
  });

  it.each([
    ['a directory', () => mkdirSync(hostsPath)],
    ['a FIFO', () => execFileSync('mkfifo', [hostsPath])],
  ])('refuses a hosts path that is %s', (_kind, make) => {
    make();
    refusal(() => ensureHostsBlock(hostsPath), 'UNSAFE_PATH');
  });
});

describe('where root may write', () => {
  it('follows a symlinked hosts file to a root-owned file and edits the target, keeping the link', () => {
    mkdirSync(join(dir, 'private'), { mode: 0o755 });
    const target = join(dir, 'private/hosts');
    writeFileSync(target, USER_CONTENT);
    symlinkSync('private/hosts', hostsPath); // relative: resolved against the link's directory

    expect(ensureHostsBlock(hostsPath)).toEqual({ changed: true, method: 'rename' });
    expect(lstatSync(hostsPath).isSymbolicLink()).toBe(true);
    expect(readFileSync(target, 'latin1')).toBe(ensureBlock(Buffer.from(USER_CONTENT, 'latin1')).toString('latin1'));
    expect(removeHostsBlock(hostsPath)).toEqual({ changed: true, method: 'rename' });
    expect(readFileSync(target, 'latin1')).toBe(USER_CONTENT);
    expect([...temps(dir), ...temps(join(dir, 'private'))]).toEqual([]);
  });

  it('refuses a symlinked hosts file whose target another user owns, changing nothing', () => {
    const target = join(dir, 'theirs');
    writeFileSync(target, USER_CONTENT);
    chownSync(target, users.other.uid, users.other.gid);
    symlinkSync(target, hostsPath);
    const error = refusal(() => ensureHostsBlock(hostsPath), 'UNSAFE_PATH');
    expect(error.message).toContain(`owned by uid ${users.other.uid}`);
    expect(readFileSync(target, 'latin1')).toBe(USER_CONTENT);
    expect(lstatSync(hostsPath).isSymbolicLink()).toBe(true);
  });

  it('refuses a symlinked hosts file that dangles or points under world-writable /tmp', () => {
    symlinkSync(join(dir, 'nowhere'), hostsPath);
    expect(refusal(() => ensureHostsBlock(hostsPath), 'UNSAFE_PATH').message).toContain('does not exist');

    const tmp = mkdtempSync('/tmp/berth-hosts-target-');
    undo.push(() => rmSync(tmp, { recursive: true, force: true }));
    writeFileSync(join(tmp, 'hosts'), USER_CONTENT);
    rmSync(hostsPath);
    symlinkSync(join(tmp, 'hosts'), hostsPath);
    expect(refusal(() => ensureHostsBlock(hostsPath), 'UNSAFE_PATH').message).toMatch(/\/tmp is writable by everyone/);
    expect(readFileSync(join(tmp, 'hosts'), 'latin1')).toBe(USER_CONTENT);
  });

  it.each([
    ['group-writable', 0o775, 'its group'],
    ['world-writable with the sticky bit, like /tmp', 0o1777, 'everyone'],
  ])('refuses a %s directory, naming it, and changes nothing', (_label, mode, who) => {
    const etc = join(dir, 'etc');
    mkdirSync(etc);
    chmodSync(etc, mode);
    writeFileSync(join(etc, 'hosts'), USER_CONTENT);
    const error = refusal(() => ensureHostsBlock(join(etc, 'hosts')), 'UNSAFE_PATH');
    expect(error.message).toContain(`${etc} is writable by ${who}`);
    expect(readFileSync(join(etc, 'hosts'), 'latin1')).toBe(USER_CONTENT);
    expect(readdirSync(etc)).toEqual(['hosts']);
  });

  it('refuses a directory owned by another user and a symlinked parent directory', () => {
    const theirs = join(dir, 'theirs');
    mkdirSync(theirs, { mode: 0o755 });
    writeFileSync(join(theirs, 'hosts'), USER_CONTENT);
    chownSync(theirs, users.other.uid, users.other.gid);
    expect(refusal(() => ensureHostsBlock(join(theirs, 'hosts')), 'UNSAFE_PATH').message).toContain(`${theirs} is owned by uid`);

    const real = join(dir, 'real');
    mkdirSync(real, { mode: 0o755 });
    writeFileSync(join(real, 'hosts'), USER_CONTENT);
    symlinkSync(real, join(dir, 'etc'));
    expect(refusal(() => ensureHostsBlock(join(dir, 'etc/hosts')), 'UNSAFE_PATH').message).toContain(`${join(dir, 'etc')} is a symlink`);
    expect(readFileSync(join(real, 'hosts'), 'latin1')).toBe(USER_CONTENT);
  });

  it('a symlink planted at a temp name cannot redirect the write', () => {
    writeFileSync(hostsPath, USER_CONTENT);
    const elsewhere = join(dir, 'elsewhere');
    writeFileSync(elsewhere, 'do not touch\n');
    const planted = randomTempName('hosts');
    symlinkSync(elsewhere, join(dir, planted));

    // The first name tried is the planted one: O_EXCL|O_NOFOLLOW refuses it and a fresh name is used.
    const names = [planted];
    const result = ensureHostsBlock(hostsPath, { tempName: (name) => names.shift() ?? randomTempName(name) });
    expect(result).toEqual({ changed: true, method: 'rename' });
    expect(readFileSync(elsewhere, 'utf8')).toBe('do not touch\n');
    expect(lstatSync(join(dir, planted)).isSymbolicLink()).toBe(true);
    expect(blockEntries(readFileSync(hostsPath)).length).toBe(3);

    // Every name taken: the operation fails rather than write through a link, and changes nothing.
    const ensured = readFileSync(hostsPath);
    const error = refusal(() => removeHostsBlock(hostsPath, { tempName: () => planted }), 'INTERNAL');
    expect(error.message).toContain('EEXIST');
    expect(readFileSync(hostsPath).equals(ensured)).toBe(true);
    expect(readFileSync(elsewhere, 'utf8')).toBe('do not touch\n');
  });
});

describe('file systems that refuse a rename', () => {
  it('a read-only file system is READ_ONLY and nothing changes', () => {
    const ro = join(dir, 'ro');
    mkdirSync(ro, { mode: 0o755 });
    const path = join(ro, 'hosts');
    writeFileSync(path, USER_CONTENT);
    const ensured = ensureBlock(Buffer.from(USER_CONTENT, 'latin1'));
    writeFileSync(join(ro, 'ensured'), ensured);
    undo.push(mount('--bind', ro, ro));
    execFileSync('mount', ['-o', 'remount,ro,bind', ro]);

    const error = refusal(() => ensureHostsBlock(path), 'READ_ONLY');
    expect(error.message).toBe(`${path} is on a read-only file system; nothing was changed`);
    expect(readFileSync(path, 'latin1')).toBe(USER_CONTENT);
    // A removal that would change something is refused the same way; one that would not is fine.
    expect(refusal(() => removeHostsBlock(join(ro, 'ensured')), 'READ_ONLY').message).toContain('read-only');
    expect(removeHostsBlock(path)).toEqual({ changed: false, method: 'none' });
    expect(readdirSync(ro).sort()).toEqual(['ensured', 'hosts']);
  });

  it('a bind-mounted hosts file is rewritten in place after a backup of the old bytes', () => {
    writeFileSync(hostsPath, 'placeholder\n');
    mkdirSync(join(dir, 'outside'), { mode: 0o755 });
    const source = join(dir, 'outside/hosts');
    writeFileSync(source, USER_CONTENT);
    const inode = statSync(source).ino;
    // A link planted at the backup name is replaced itself (rename never follows), never written through.
    const elsewhere = join(dir, 'elsewhere');
    writeFileSync(elsewhere, 'do not touch\n');
    symlinkSync(elsewhere, join(dir, 'hosts.berth-backup'));
    undo.push(bindMount(source, hostsPath));

    const backupPath = join(dir, 'hosts.berth-backup');
    expect(ensureHostsBlock(hostsPath)).toEqual({ changed: true, method: 'in-place', backupPath });
    const ensured = ensureBlock(Buffer.from(USER_CONTENT, 'latin1'));
    expect(readFileSync(source).equals(ensured)).toBe(true);
    expect(readFileSync(backupPath, 'latin1')).toBe(USER_CONTENT);
    expect(lstatSync(backupPath).isFile()).toBe(true);
    expect(readFileSync(elsewhere, 'utf8')).toBe('do not touch\n');
    expect(statSync(source).ino).toBe(inode);

    expect(ensureHostsBlock(hostsPath)).toEqual({ changed: false, method: 'none' });
    expect(removeHostsBlock(hostsPath)).toEqual({ changed: true, method: 'in-place', backupPath });
    expect(readFileSync(source, 'latin1')).toBe(USER_CONTENT);
    expect(readFileSync(backupPath).equals(ensured)).toBe(true);
    expect(temps(dir)).toEqual([]);
  });

  it('a full disk: NO_SPACE with a sentence, the old bytes intact (in place and by rename), and the next try works once there is room', () => {
    // The bind-mounted hosts file lives on a tiny file system that is then filled up.
    writeFileSync(hostsPath, 'placeholder\n');
    const small = join(dir, 'small');
    mkdirSync(small, { mode: 0o755 });
    undo.push(mount('-t', 'tmpfs', '-o', 'size=64k,mode=0755', 'berth-full', small));
    const source = join(small, 'hosts');
    // Exactly one page long: growing it needs a new block, which a full disk refuses (a file ending mid-block grows into it).
    const FULL_PAGE = `${USER_CONTENT}\n#${'x'.repeat(4096 - USER_CONTENT.length - 3)}\n`;
    expect(FULL_PAGE.length).toBe(4096);
    writeFileSync(source, FULL_PAGE, 'latin1');
    const filler = join(small, 'filler');
    execFileSync('sh', ['-c', 'cat /dev/zero > "$1" 2>/dev/null || true', 'sh', filler]);
    undo.push(bindMount(source, hostsPath));

    const error = refusal(() => ensureHostsBlock(hostsPath), 'NO_SPACE');
    expect(error.message).toBe(`the disk that holds ${hostsPath} is full, so it was not changed; free some space and try again`);
    expect(readFileSync(source, 'latin1')).toBe(FULL_PAGE);
    expect(readdirSync(dir).filter((n) => n.startsWith('hosts.'))).toEqual([]); // no backup of an edit that never happened
    // The same file system, written by rename (not a mount point): the temp cannot be written, nothing changes.
    const plain = join(small, 'plain-hosts');
    execFileSync('rm', [filler]);
    writeFileSync(plain, USER_CONTENT);
    execFileSync('sh', ['-c', 'cat /dev/zero > "$1" 2>/dev/null || true', 'sh', filler]);
    expect(refusal(() => ensureHostsBlock(plain), 'NO_SPACE').message).toContain('is full, so it was not changed');
    expect(readFileSync(plain, 'latin1')).toBe(USER_CONTENT);
    expect(temps(small)).toEqual([]);

    execFileSync('rm', [filler]);
    expect(ensureHostsBlock(hostsPath)).toMatchObject({ changed: true, method: 'in-place' });
    expect(readFileSync(source).equals(ensureBlock(Buffer.from(FULL_PAGE, 'latin1')))).toBe(true);
  });

  it('a read-only bind-mounted hosts file (a container) is READ_ONLY and leaves no backup', () => {
    writeFileSync(hostsPath, 'placeholder\n');
    mkdirSync(join(dir, 'outside'), { mode: 0o755 });
    const source = join(dir, 'outside/hosts');
    writeFileSync(source, USER_CONTENT);
    undo.push(bindMount(source, hostsPath));
    execFileSync('mount', ['-o', 'remount,ro,bind', hostsPath]);

    refusal(() => ensureHostsBlock(hostsPath), 'READ_ONLY');
    expect(readFileSync(source, 'latin1')).toBe(USER_CONTENT);
    expect(readdirSync(dir).sort()).toEqual(['hosts', 'outside']);
  });
});

describe('a writer racing the helper', () => {
  it('starts over from the read when the file changed before the rename', () => {
    writeFileSync(hostsPath, '127.0.0.1 localhost\n');
    let calls = 0;
    const result = updateFile(hostsPath, (content) => {
      calls++;
      // Another editor saves while we compute (size and mtime change).
      if (calls === 1) appendFileSync(hostsPath, '10.0.0.9 racer.test\n');
      return ensureBlock(content);
    });
    expect(result).toEqual({ changed: true, method: 'rename' });
    expect(calls).toBe(2);
    expect(readFileSync(hostsPath, 'latin1')).toBe(
      ensureBlock(Buffer.from('127.0.0.1 localhost\n10.0.0.9 racer.test\n')).toString('latin1'),
    );
    expect(temps(dir)).toEqual([]);
  });

  it('gives up with INTERNAL after five attempts, keeping the other writer’s bytes and no temp file', () => {
    writeFileSync(hostsPath, '# start\n');
    const error = refusal(
      () =>
        updateFile(hostsPath, (content) => {
          appendFileSync(hostsPath, '# again\n');
          return ensureBlock(content);
        }),
      'INTERNAL',
    );
    expect(error.message).toContain('kept changing');
    expect(readFileSync(hostsPath, 'latin1')).toBe('# start\n' + '# again\n'.repeat(5));
    expect(temps(dir)).toEqual([]);
  });
});
